import Foundation

/// How a byte-pair encoding is learned.
public struct BPEOptions: Sendable, Equatable, Codable {
    /// Stop after this many merges...
    public var merges: Int
    /// ...or when the vocabulary (reserved tokens, bytes, alphabet and merged
    /// tokens) reaches this size, whichever comes first.
    public var vocabularySize: Int?
    /// Stop when the most frequent pair is seen fewer times than this.
    public var minFrequency: Int
    /// Characters seen fewer times than this stay out of the alphabet (they
    /// encode as bytes or `<unk>`).
    public var minCharacterFrequency: Int
    /// Spell characters outside the alphabet as UTF-8 bytes (else `<unk>`).
    public var byteFallback: Bool

    public init(merges: Int = 8000, vocabularySize: Int? = nil, minFrequency: Int = 2,
                minCharacterFrequency: Int = 1, byteFallback: Bool = true) {
        self.merges = merges
        self.vocabularySize = vocabularySize
        self.minFrequency = minFrequency
        self.minCharacterFrequency = minCharacterFrequency
        self.byteFallback = byteFallback
    }
}

/// Learns a byte-pair encoding (Sennrich, Haddow & Birch, 2016) from a
/// corpus: count the pieces (`SubwordPreTokenizer`), start from their
/// characters, and merge the most frequent adjacent pair again and again.
///
/// Deterministic: the result depends only on the piece counts, not on the
/// order of the texts. The alphabet enters the vocabulary with the marker
/// '▁' first, then by frequency (descending), then by code point; merged
/// tokens enter in merge order. Ties between pairs of equal count go to the
/// pair whose left token entered the vocabulary first, then whose right
/// token did. A merge replaces the pair's
/// occurrences left to right ("a a a" with "a a" gives "aa a"), as encoding
/// does. For a shared vocabulary, learn once from the texts of both languages.
///
/// Pair counts are kept up to date as merges go (each merge visits only the
/// pieces that hold its pair), with a lazily-updated heap of pairs.
public enum BPELearner {
    /// Learns from texts.
    public static func learn(_ texts: [String], options: BPEOptions = BPEOptions()) -> BPEModel {
        learn(counts: countPieces(texts), options: options)
    }

    /// How many times each piece occurs in `texts` (on all cores).
    public static func countPieces(_ texts: [String]) -> [SubwordPreTokenizer.Piece: Int] {
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, texts.count / 1000))
        let parts = ResultSlots<[SubwordPreTokenizer.Piece: Int]>(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var counts: [SubwordPreTokenizer.Piece: Int] = [:]
            let lo = texts.count * c / chunks, hi = texts.count * (c + 1) / chunks
            for t in texts[lo..<hi] {
                for p in SubwordPreTokenizer.pieces(t) { counts[p, default: 0] += 1 }
            }
            parts.set(c, counts)
        }
        let all = parts.allValues
        var total = all[0]
        for part in all.dropFirst() { total.merge(part, uniquingKeysWith: +) }
        return total
    }

    /// Learns from piece counts.
    public static func learn(counts: [SubwordPreTokenizer.Piece: Int], options: BPEOptions = BPEOptions()) -> BPEModel {
        var start = Start(counts: counts, options: options)
        var state = PairCounts(words: start.words, freq: start.freq)
        let maxTokens = options.vocabularySize ?? Int.max
        while start.merges.count < options.merges && start.tokens.count < maxTokens {
            guard let (a, b, n) = state.best(), n >= options.minFrequency else { break }
            state.merge(a, b, into: start.add(a, b))
        }
        return start.model()
    }

    /// The vocabulary before any merge, the pieces as symbols, and the
    /// merges made so far.
    struct Start {
        var tokens = BPEModel.reserved
        var ids: [String: Int32] = [:]
        var words: [[Int32]] = []
        var freq: [Int] = []
        var pieces: [SubwordPreTokenizer.Piece] = []
        var merges: [(String, String)] = []
        let byteFallback: Bool

        init(counts: [SubwordPreTokenizer.Piece: Int], options: BPEOptions) {
            let marker = SubwordPreTokenizer.marker
            byteFallback = options.byteFallback
            var charCounts: [UInt32: Int] = [:]
            for (p, c) in counts {
                for s in p.body.unicodeScalars where s != marker { charCounts[s.value, default: 0] += c }
            }
            // The marker first, then by frequency (descending), then code point.
            let alphabet = charCounts.filter { $0.value >= options.minCharacterFrequency }
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
            if options.byteFallback { tokens += (0...255).map { BPEModel.byteToken(UInt8($0)) } }
            var scalarIDs: [UInt32: Int32] = [:]
            for v in [marker.value] + alphabet {
                scalarIDs[v] = Int32(tokens.count)
                ids[String(Unicode.Scalar(v)!)] = Int32(tokens.count)
                tokens.append(String(Unicode.Scalar(v)!))
            }
            let markerID = scalarIDs[marker.value]!
            // Pieces as symbol ids; -1 for a character outside the alphabet (never merged).
            for (p, c) in counts {
                var w: [Int32] = p.spaceBefore ? [markerID] : []
                for s in p.body.unicodeScalars { w.append(s == marker ? -1 : scalarIDs[s.value] ?? -1) }
                if w.count > 1 {
                    words.append(w)
                    freq.append(c)
                    pieces.append(p)
                }
            }
        }

        /// Records the merge of (a, b); returns the id of the token it makes
        /// (an existing id if another merge made the same string before).
        mutating func add(_ a: Int32, _ b: Int32) -> Int32 {
            let s = tokens[Int(a)] + tokens[Int(b)]
            merges.append((tokens[Int(a)], tokens[Int(b)]))
            if let existing = ids[s] { return existing }
            let c = Int32(tokens.count)
            ids[s] = c
            tokens.append(s)
            return c
        }

        func model() -> BPEModel {
            do {
                return try BPEModel(tokens: tokens, merges: merges, byteFallback: byteFallback)
            } catch {
                preconditionFailure("BPELearner made an invalid model: \(error)")
            }
        }
    }
}

/// Results written by concurrent workers, one slot each.
final class ResultSlots<T>: @unchecked Sendable {
    private(set) var values: [T?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { lock.lock(); values[i] = v; lock.unlock() }
}

extension ResultSlots {
    var allValues: [T] { values.map { $0! } }
}
