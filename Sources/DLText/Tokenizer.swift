import Foundation

/// The word tokenizer of the text tasks: lowercase (optional), words of
/// letters and digits (with inner apostrophes, hyphens and periods kept, as in
/// "o'brien", "well-made", "u.s."), every other visible character a token of
/// its own, and English clitics split off the way GloVe's corpus was
/// tokenized ("don't" -> "do", "n't"; "it's" -> "it", "'s"), so more words
/// find a pretrained vector.
public struct Tokenizer: Sendable, Equatable, Codable {
    public var lowercase: Bool

    public init(lowercase: Bool = true) { self.lowercase = lowercase }

    static let clitics = ["n't", "'s", "'re", "'ll", "'ve", "'d", "'m"]

    public func tokenize(_ text: String) -> [String] {
        let s = lowercase ? text.lowercased() : text
        var tokens: [String] = []
        var word = ""
        func flush() {
            guard !word.isEmpty else { return }
            // Trailing joiners are punctuation of their own ("end." -> "end", ".").
            var trailing: [String] = []
            while let last = word.last, "'-.".contains(last) {
                trailing.insert(String(last), at: 0)
                word.removeLast()
            }
            if !word.isEmpty {
                let lower = word.lowercased()
                if let c = Self.clitics.first(where: { lower.hasSuffix($0) && lower.count > $0.count }) {
                    tokens.append(String(word.dropLast(c.count)))
                    tokens.append(String(word.suffix(c.count)))
                } else {
                    tokens.append(word)
                }
            }
            tokens += trailing
            word = ""
        }
        for ch in s {
            if ch.isLetter || ch.isNumber {
                word.append(ch)
            } else if "'-.’".contains(ch), !word.isEmpty {
                word.append(ch == "’" ? "'" : ch)
            } else {
                flush()
                if !ch.isWhitespace && !ch.isNewline { tokens.append(ch == "’" ? "'" : String(ch)) }
            }
        }
        flush()
        return tokens
    }
}

/// A word list with its ids: id 0 is padding, id 1 the unknown word, then the
/// words. Written as `vocab.txt`, one word a line in id order (the first two
/// lines are the reserved tokens).
public struct Vocabulary: Sendable, Equatable {
    public static let padding = "<pad>"
    public static let unknown = "<unk>"
    public static let paddingID = 0
    public static let unknownID = 1

    public let words: [String]
    let ids: [String: Int]

    /// From a word list that starts with the two reserved tokens.
    public init(words: [String]) throws {
        guard words.count >= 2, words[0] == Self.padding, words[1] == Self.unknown else {
            throw TextError.vocabulary("a vocabulary starts with \(Self.padding) and \(Self.unknown)")
        }
        var ids: [String: Int] = [:]
        for (i, w) in words.enumerated() {
            guard !w.isEmpty, !w.contains(where: \.isNewline) else { throw TextError.vocabulary("word \(i) is empty or spans lines") }
            guard ids[w] == nil else { throw TextError.vocabulary("'\(w)' appears twice (ids \(ids[w]!) and \(i))") }
            ids[w] = i
        }
        self.words = words
        self.ids = ids
    }

    /// The words of `texts` seen at least `minCount` times, most frequent
    /// first (ties in alphabetical order), at most `maxSize` ids in all.
    public static func build(from texts: [[String]], minCount: Int = 1, maxSize: Int = 50_000) -> Vocabulary {
        var counts: [String: Int] = [:]
        for t in texts { for w in t { counts[w, default: 0] += 1 } }
        let kept = counts.filter { $0.value >= minCount && $0.key != padding && $0.key != unknown }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(max(0, maxSize - 2)).map(\.key)
        return try! Vocabulary(words: [padding, unknown] + kept)
    }

    public var count: Int { words.count }

    public func id(_ word: String) -> Int { ids[word] ?? Self.unknownID }

    /// Ids of tokens and how many were unknown.
    public func encode(_ tokens: [String]) -> (ids: [Int], unknown: Int) {
        var unknown = 0
        let out = tokens.map { w -> Int in
            if let i = ids[w] { return i }
            unknown += 1
            return Self.unknownID
        }
        return (out, unknown)
    }

    /// Reads `vocab.txt`.
    public static func load(_ url: URL) throws -> Vocabulary {
        try Vocabulary(words: lines(of: url))
    }

    /// The lines of a UTF-8 word list (a final newline ends the last line).
    public static func lines(of url: URL) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TextError.vocabulary("cannot read \(url.lastPathComponent) as UTF-8")
        }
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// `vocab.txt`'s contents.
    public var fileContents: String { words.joined(separator: "\n") + "\n" }
}

public enum TextError: Error, Equatable, CustomStringConvertible {
    case vocabulary(String)
    case data(String)

    public var description: String {
        switch self {
        case .vocabulary(let m): return "invalid vocabulary: \(m)"
        case .data(let m): return "invalid text data: \(m)"
        }
    }
}
