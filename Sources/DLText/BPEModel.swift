import Foundation

/// A learned byte-pair encoding (Sennrich, Haddow & Birch, 2016): the
/// vocabulary in id order and the merges in rank order.
///
/// Vocabulary layout (ids):
/// - 0 `<pad>`, 1 `<unk>` (as `Vocabulary`), 2 `<bos>`, 3 `<eos>`;
/// - with byte fallback, 4...259 the bytes `<0x00>`...`<0xFF>`: a character
///   outside the alphabet is spelt as its UTF-8 bytes, so every text encodes
///   and decodes back exactly; without it, such a character is `<unk>`;
/// - the alphabet: single characters (Unicode scalars), the marker '▁' among
///   them;
/// - the tokens the merges make, in the order they were first made.
///
/// Tokens never hold whitespace, and '▁' only as their first character.
public struct BPEModel: Sendable, Equatable {
    public static let beginning = "<bos>"
    public static let end = "<eos>"
    public static let paddingID = Vocabulary.paddingID
    public static let unknownID = Vocabulary.unknownID
    public static let beginningID = 2
    public static let endID = 3
    public static let reserved = [Vocabulary.padding, Vocabulary.unknown, beginning, end]
    /// How an unknown character is shown when decoding without byte fallback.
    public static let unknownText = "\u{2047}"

    /// One merge: `left` and `right` (ids) become `result`.
    public struct Merge: Sendable, Equatable {
        public var left: Int
        public var right: Int
        public var result: Int
    }

    public let vocabulary: Vocabulary
    public let merges: [Merge]
    public let byteFallback: Bool
    /// Alphabet: scalar value -> id.
    let scalarIDs: [UInt32: Int32]
    /// Pair (left << 32 | right) -> (rank, result).
    let mergeTable: [UInt64: (rank: Int32, result: Int32)]
    public let markerID: Int

    public static func == (a: BPEModel, b: BPEModel) -> Bool {
        a.vocabulary == b.vocabulary && a.merges == b.merges && a.byteFallback == b.byteFallback
    }

    public static func byteToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x\(hex.count == 1 ? "0" + hex : hex)>"
    }

    /// The first id after the reserved tokens and bytes.
    public static func alphabetStart(byteFallback: Bool) -> Int { reserved.count + (byteFallback ? 256 : 0) }

    /// The id of byte `b` (byte fallback only).
    public static func byteID(_ b: UInt8) -> Int { reserved.count + Int(b) }

    public var count: Int { vocabulary.count }

    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// Checks and indexes a vocabulary (in id order) and merges (token
    /// strings, in rank order). Errors carry the 1-based line of the token
    /// (`vocab.txt`) or of the merge (`merges.txt`, the header excluded) at fault.
    public init(tokens: [String], merges pairs: [(String, String)], byteFallback: Bool) throws(BPEError) {
        let start = Self.alphabetStart(byteFallback: byteFallback)
        for (i, r) in Self.reserved.enumerated() where i >= tokens.count || tokens[i] != r {
            throw BPEError(part: .vocabulary, line: i + 1, "expected \(r) (ids 0-3 are \(Self.reserved.joined(separator: " ")))")
        }
        if byteFallback {
            for b in 0..<256 where Self.byteID(UInt8(b)) >= tokens.count || tokens[Self.byteID(UInt8(b))] != Self.byteToken(UInt8(b)) {
                throw BPEError(part: .vocabulary, line: Self.byteID(UInt8(b)) + 1, "expected \(Self.byteToken(UInt8(b))) (byte fallback)")
            }
        }
        var ids: [String: Int32] = [:]
        var scalarIDs: [UInt32: Int32] = [:]
        for (i, t) in tokens.enumerated() {
            if i >= start {
                guard !t.isEmpty else { throw BPEError(part: .vocabulary, line: i + 1, "empty token") }
                guard !t.unicodeScalars.contains(where: \.properties.isWhitespace) else {
                    throw BPEError(part: .vocabulary, line: i + 1, "token '\(t)' holds whitespace")
                }
                guard !t.unicodeScalars.dropFirst().contains(SubwordPreTokenizer.marker) else {
                    throw BPEError(part: .vocabulary, line: i + 1, "token '\(t)' holds '▁' after its first character")
                }
            }
            if let j = ids[t] { throw BPEError(part: .vocabulary, line: i + 1, "'\(t)' appears twice (lines \(j + 1) and \(i + 1))") }
            ids[t] = Int32(i)
            if i >= start, t.unicodeScalars.count == 1 { scalarIDs[t.unicodeScalars.first!.value] = Int32(i) }
        }
        guard let marker = scalarIDs[SubwordPreTokenizer.marker.value] else {
            throw BPEError(part: .vocabulary, line: nil, "the alphabet lacks the word marker '▁'")
        }
        var made = Set(scalarIDs.values)
        var merges: [Merge] = []
        var table: [UInt64: (rank: Int32, result: Int32)] = [:]
        for (rank, (l, r)) in pairs.enumerated() {
            let line = rank + 1
            guard let a = ids[l], made.contains(a) else {
                throw BPEError(part: .merges, line: line, "'\(l)' is not in the alphabet nor made by an earlier merge")
            }
            guard let b = ids[r], made.contains(b) else {
                throw BPEError(part: .merges, line: line, "'\(r)' is not in the alphabet nor made by an earlier merge")
            }
            guard !r.unicodeScalars.starts(with: [SubwordPreTokenizer.marker]) else {
                throw BPEError(part: .merges, line: line, "the right part '\(r)' starts with '▁'")
            }
            guard let c = ids[l + r] else { throw BPEError(part: .merges, line: line, "'\(l + r)' is not in the vocabulary") }
            let key = Self.pairKey(a, b)
            guard table[key] == nil else { throw BPEError(part: .merges, line: line, "'\(l) \(r)' appears twice") }
            table[key] = (Int32(rank), c)
            made.insert(c)
            merges.append(Merge(left: Int(a), right: Int(b), result: Int(c)))
        }
        for i in start..<tokens.count where !made.contains(Int32(i)) {
            throw BPEError(part: .vocabulary, line: i + 1, "'\(tokens[i])' is neither one character nor made by a merge")
        }
        do { self.vocabulary = try Vocabulary(words: tokens) } catch {
            throw BPEError(part: .vocabulary, line: nil, "\(error)")
        }
        self.merges = merges
        self.byteFallback = byteFallback
        self.scalarIDs = scalarIDs
        self.mergeTable = table
        self.markerID = Int(marker)
    }

    /// The merges as token strings, in rank order.
    public var mergeStrings: [(String, String)] {
        merges.map { (vocabulary.words[$0.left], vocabulary.words[$0.right]) }
    }
}

/// A tokenizer file that fails its checks: which file, which line, what.
public struct BPEError: Error, Equatable, CustomStringConvertible {
    public enum Part: Sendable, Equatable { case vocabulary, merges }
    public var part: Part
    public var file: String?
    public var line: Int?
    public var message: String

    public init(part: Part, file: String? = nil, line: Int?, _ message: String) {
        self.part = part
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        let name = file ?? (part == .vocabulary ? "vocabulary" : "merges")
        return "\(name)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}
