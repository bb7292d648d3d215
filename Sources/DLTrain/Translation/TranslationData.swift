import DLText
import Foundation

/// A sentence pair as subword ids: `source` ends with `<eos>`, `target` is
/// `<bos>` + subwords + `<eos>` (`TranslationSubwords.encodeSource/Target`).
public struct EncodedPair: Equatable, Sendable {
    public var source: [Int]
    public var target: [Int]

    public init(source: [Int], target: [Int]) {
        self.source = source
        self.target = target
    }
}

/// Parallel text files: one `SOURCE<TAB>TARGET` pair a line.
public enum TranslationPairs {
    /// Reads up to `limit` pairs. Empty lines are skipped; a non-empty line
    /// without exactly one tab, or with an empty side, is a dataset error naming the line.
    public static func read(_ url: URL, limit: Int? = nil) throws -> [(source: String, target: String)] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError.dataset("\(url.path): cannot read (does it exist?)")
        }
        var pairs: [(source: String, target: String)] = []
        var lineNumber = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if let limit, pairs.count >= limit { break }
            let l = line.hasSuffix("\r") ? line.dropLast() : line
            if l.isEmpty { continue }
            let cols = l.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count == 2, !cols[0].isEmpty, !cols[1].isEmpty else {
                throw TrainingError.dataset("\(url.lastPathComponent) line \(lineNumber): expected SOURCE<TAB>TARGET")
            }
            pairs.append((String(cols[0]), String(cols[1])))
        }
        return pairs
    }

    /// Encodes pairs with the subwords; with `maxLength`, pairs whose source or
    /// target ids (with `<bos>`/`<eos>`) exceed it are dropped.
    public static func encode(_ pairs: [(source: String, target: String)], with subwords: TranslationSubwords,
                              maxLength: Int? = nil) -> [EncodedPair] {
        pairs.compactMap { p in
            let e = EncodedPair(source: subwords.encodeSource(p.source), target: subwords.encodeTarget(p.target))
            if let maxLength, e.source.count > maxLength || e.target.count > maxLength { return nil }
            return e
        }
    }
}
