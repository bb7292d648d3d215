import DLTensor
import Foundation

/// Verification pairs in LFW's pairs.txt format: a header `FOLDS<TAB>N` (or
/// just `N`, one fold), then per fold N matched lines `name<TAB>n1<TAB>n2`
/// followed by N mismatched lines `name1<TAB>n1<TAB>name2<TAB>n2` (photo
/// numbers as in `Name_NNNN.jpg`). Whitespace may be spaces or tabs.
public struct FacePairs: Equatable, Sendable {
    public struct Pair: Equatable, Sendable {
        public var a: (person: String, number: Int)
        public var b: (person: String, number: Int)
        public var same: Bool
        public var fold: Int
        public static func == (x: Pair, y: Pair) -> Bool {
            x.a == y.a && x.b == y.b && x.same == y.same && x.fold == y.fold
        }
    }

    public var pairs: [Pair]
    public var folds: Int

    public static let fileName = "pairs.txt"

    public init(pairs: [Pair], folds: Int) { (self.pairs, self.folds) = (pairs, folds) }

    public static func parse(_ text: String, source: String = "pairs.txt") throws -> FacePairs {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) }
            .filter { !$0.isEmpty }
        func fail(_ line: Int, _ m: String) -> TrainingError { .dataset("\(source):\(line): \(m)") }
        guard let header = lines.first, (1...2).contains(header.count), let first = Int(header[0]) else {
            throw fail(1, "the first line must be 'FOLDS<TAB>PAIRS' or 'PAIRS'")
        }
        let (folds, perSide) = header.count == 2 ? (first, Int(header[1]) ?? -1) : (1, first)
        guard folds >= 1, perSide >= 1 else { throw fail(1, "folds and pairs must be positive (got '\(header.joined(separator: " "))')") }
        guard lines.count == 1 + folds * perSide * 2 else {
            throw fail(1, "\(folds) folds of \(perSide) matched + \(perSide) mismatched pairs need \(folds * perSide * 2) lines, found \(lines.count - 1)")
        }
        var pairs: [Pair] = []
        for i in 1..<lines.count {
            let f = lines[i], fold = (i - 1) / (2 * perSide), matched = (i - 1) % (2 * perSide) < perSide
            if matched {
                guard f.count == 3, let n1 = Int(f[1]), let n2 = Int(f[2]) else { throw fail(i + 1, "a matched pair is 'name n1 n2'") }
                pairs.append(Pair(a: (f[0], n1), b: (f[0], n2), same: true, fold: fold))
            } else {
                guard f.count == 4, let n1 = Int(f[1]), let n2 = Int(f[3]) else { throw fail(i + 1, "a mismatched pair is 'name1 n1 name2 n2'") }
                pairs.append(Pair(a: (f[0], n1), b: (f[2], n2), same: false, fold: fold))
            }
        }
        return FacePairs(pairs: pairs, folds: folds)
    }

    public static func load(_ url: URL) throws -> FacePairs {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TrainingError.dataset("\(url.path): cannot read (\(error.localizedDescription))")
        }
        return try parse(text, source: url.path)
    }

    /// Each pair as photo indices of `set`; a photo the set lacks is an error naming it.
    public func indices(in set: FaceSet) throws -> [(Int, Int)] {
        let lookup = set.lookup
        func find(_ p: (person: String, number: Int)) throws -> Int {
            guard let i = lookup[FaceSet.Key(person: p.person, number: p.number)] else {
                throw TrainingError.dataset("pairs: no photo \(p.person)/\(p.person)_\(String(format: "%04d", p.number)) in the set")
            }
            return i
        }
        return try pairs.map { (try find($0.a), try find($0.b)) }
    }

    /// `perSide` matched and `perSide` mismatched pairs drawn (seeded) from
    /// the set, one fold; a pair never repeats. For dev scoring during training.
    public static func sample(_ set: FaceSet, perSide: Int, seed: UInt64) -> FacePairs {
        var rng = SeededGenerator(seed: seed)
        let photos = set.photosByIdentity
        let multi = photos.indices.filter { photos[$0].count >= 2 }
        var seen = Set<[Int]>(), out: [Pair] = []
        func pair(_ i: Int, _ j: Int, same: Bool) -> Pair {
            Pair(a: (set.names[set.labels[i]], set.numbers[i]), b: (set.names[set.labels[j]], set.numbers[j]), same: same, fold: 0)
        }
        var tries = 0
        while out.count < perSide, !multi.isEmpty, tries < perSide * 50 {
            tries += 1
            let who = photos[multi.randomElement(using: &rng)!]
            let i = who.randomElement(using: &rng)!, j = who.randomElement(using: &rng)!
            if i != j, seen.insert([min(i, j), max(i, j)]).inserted { out.append(pair(i, j, same: true)) }
        }
        let matched = out.count
        tries = 0
        while out.count < 2 * matched, photos.count >= 2, tries < perSide * 50 {
            tries += 1
            let i = Int.random(in: 0..<set.count, using: &rng), j = Int.random(in: 0..<set.count, using: &rng)
            if set.labels[i] != set.labels[j], seen.insert([min(i, j), max(i, j)]).inserted { out.append(pair(i, j, same: false)) }
        }
        return FacePairs(pairs: out, folds: 1)
    }
}
