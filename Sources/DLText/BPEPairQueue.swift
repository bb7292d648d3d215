/// The learner's max-heap of symbol pairs by count. Order: higher count
/// first; on equal counts the pair whose left id is smaller, then whose right
/// id is smaller (ids are given in the order symbols enter the vocabulary).
/// Entries may be stale: the learner checks a popped count against the live
/// one and pushes the pair back with its live count when they differ.
struct BPEPairQueue {
    struct Entry {
        var count: Int
        var left: Int32
        var right: Int32

        /// True when `self` comes out before `other`.
        @inline(__always) func precedes(_ other: Entry) -> Bool {
            if count != other.count { return count > other.count }
            if left != other.left { return left < other.left }
            return right < other.right
        }
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].precedes(entries[parent]) else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        guard !entries.isEmpty else { return top }
        entries[0] = last
        var i = 0
        let n = entries.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && entries[l].precedes(entries[best]) { best = l }
            if r < n && entries[r].precedes(entries[best]) { best = r }
            if best == i { break }
            entries.swapAt(i, best)
            i = best
        }
        return top
    }
}
