/// The learner's working state: every distinct piece as symbol ids with its
/// count, how often each adjacent pair occurs (weighted by piece counts),
/// which pieces hold each pair, and a heap to find the most frequent pair.
///
/// A merge visits only the pieces listed for its pair and changes the counts
/// of the pairs around each occurrence, so learning costs about the number of
/// occurrences merged, not a recount of the corpus per merge. Symbols < 0
/// (characters outside the alphabet) take part in no pair.
struct PairCounts {
    private(set) var words: [[Int32]]
    private let freq: [Int]
    private var counts: [UInt64: Int] = [:]
    /// Pieces that held the pair at some time (a superset: checked when used).
    private var holders: [UInt64: [Int32]] = [:]
    private var queue = BPEPairQueue()
    /// The merge that last visited each piece (to visit a piece once per merge).
    private var visited: [Int32]
    private var mergeIndex: Int32 = 0

    init(words: [[Int32]], freq: [Int]) {
        self.words = words
        self.freq = freq
        self.visited = Array(repeating: -1, count: words.count)
        for (w, symbols) in words.enumerated() {
            for i in 0..<(symbols.count - 1) where symbols[i] >= 0 && symbols[i + 1] >= 0 {
                let k = BPEModel.pairKey(symbols[i], symbols[i + 1])
                counts[k, default: 0] += freq[w]
                holders[k, default: []].append(Int32(w))
            }
        }
        for (k, n) in counts { queue.push(.init(count: n, left: Int32(k >> 32), right: Int32(truncatingIfNeeded: k))) }
    }

    /// The most frequent pair and its count (ties as `BPEPairQueue` orders them).
    mutating func best() -> (Int32, Int32, Int)? {
        while let e = queue.pop() {
            let live = counts[BPEModel.pairKey(e.left, e.right)] ?? 0
            if live == e.count { return (e.left, e.right, live) }
            if live > 0 { queue.push(.init(count: live, left: e.left, right: e.right)) }
        }
        return nil
    }

    /// Replaces every occurrence of (a, b), left to right, by c.
    mutating func merge(_ a: Int32, _ b: Int32, into c: Int32) {
        let key = BPEModel.pairKey(a, b)
        let list = holders.removeValue(forKey: key) ?? []
        var changed = Set<UInt64>()
        for w32 in list {
            let w = Int(w32)
            guard visited[w] != mergeIndex else { continue }
            visited[w] = mergeIndex
            let old = words[w]
            let n = old.count
            let f = freq[w]
            var out: [Int32] = []
            out.reserveCapacity(n)
            var i = 0
            var touched = false
            while i < n {
                if i + 1 < n && old[i] == a && old[i + 1] == b {
                    touched = true
                    if let p = out.last, p >= 0 {
                        add(p, a, -f)
                        add(p, c, f)
                        note(p, c, w32, &changed)
                    }
                    if i + 2 < n, old[i + 2] >= 0 {
                        add(b, old[i + 2], -f)
                        add(c, old[i + 2], f)
                        note(c, old[i + 2], w32, &changed)
                    }
                    add(a, b, -f)
                    out.append(c)
                    i += 2
                } else {
                    out.append(old[i])
                    i += 1
                }
            }
            if touched { words[w] = out }
        }
        counts[key] = nil
        for k in changed {
            if let n = counts[k], n > 0 {
                queue.push(.init(count: n, left: Int32(k >> 32), right: Int32(truncatingIfNeeded: k)))
            }
        }
        mergeIndex += 1
    }

    @inline(__always) private mutating func add(_ x: Int32, _ y: Int32, _ d: Int) {
        counts[BPEModel.pairKey(x, y), default: 0] += d
    }

    @inline(__always) private mutating func note(_ x: Int32, _ y: Int32, _ w: Int32, _ changed: inout Set<UInt64>) {
        let k = BPEModel.pairKey(x, y)
        holders[k, default: []].append(w)
        changed.insert(k)
    }
}
