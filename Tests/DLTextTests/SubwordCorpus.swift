import DLText

/// A seeded generator (SplitMix64), so property tests repeat.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Synthetic English and Spanish-like text for the BPE tests.
enum SubwordCorpus {
    static let words = [
        "the", "The", "house", "houses", "of", "and", "was", "were", "lower", "newest", "widest", "reading",
        "la", "La", "casa", "casas", "de", "y", "era", "qué", "Qué", "está", "están", "niño", "niños",
        "canción", "corazón", "pingüino", "año", "años", "él", "Él", "mañana", "también", "Dios", "dijo",
        "3", "16", "2024", "1,5",
    ]
    static let punctuation = [",", ".", ";", ":", "!", "?"]

    /// `count` sentences of 3 to 15 words, some in ¿...? or ¡...! or «...».
    static func sentences(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let n = Int.random(in: 3...15, using: &rng)
            var ws = (0..<n).map { _ in words.randomElement(using: &rng)! }
            if Bool.random(using: &rng) { ws[Int.random(in: 0..<n, using: &rng)] += punctuation.randomElement(using: &rng)! }
            let s = ws.joined(separator: " ")
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return "¿\(s)?"
            case 1: return "¡\(s)!"
            case 2: return "«\(s)», dijo."
            default: return s + "."
            }
        }
    }

    /// Characters for random strings: letters with accents, punctuation,
    /// whitespace of several kinds, digits, a combining accent, the literal
    /// marker, emoji, CJK and control characters.
    static let alphabet: [Unicode.Scalar] = Array("abcdefghijklmnopqrstuvwxyzABCXYZáéíóúñüÁÉÑ¿¡«»,.;:!?()\"'-0123456789 ".unicodeScalars)
        + ["\t", "\n", "\r", "\u{A0}", "\u{2003}", "\u{301}", "\u{2581}", "\u{1F600}", "\u{1F1EA}", "\u{1F1F8}",
           "\u{4E2D}", "\u{0}", "\u{7F}", "\u{200D}", "\u{FEFF}", "\u{10FFFF}", "e", "n"]

    static func randomString(length: Int, using rng: inout SplitMix64) -> String {
        var v = String.UnicodeScalarView()
        for _ in 0..<length { v.append(alphabet.randomElement(using: &rng)!) }
        return String(v)
    }
}
