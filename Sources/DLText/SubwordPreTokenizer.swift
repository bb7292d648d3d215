import Foundation

/// Splits text into the pieces byte-pair encoding works on, keeping all that
/// decoding needs to give the text back.
///
/// - The text is normalised first: Unicode NFC, every run of whitespace
///   (Unicode White_Space: spaces, tabs, newlines, no-break spaces) becomes
///   one space, none at either end. `decode(encode(x)) == normalize(x)`.
/// - Case is kept (translation is scored on mixed-case BLEU).
/// - A piece is a run of letters (with their combining marks: á é í ó ú ñ ü),
///   a run of decimal digits, or any other single character (punctuation,
///   symbols, including ¿ ¡ « » and the like). Runs longer than
///   `maxPieceLength` scalars are cut, so no piece costs more than that.
/// - Word boundaries are marked SentencePiece-style: a piece that follows a
///   space, or starts the text, carries the marker '▁' (U+2581) in front.
///   Decoding turns each marker back into a space and drops the first one, so
///   "¿Qué tal?" gives `▁¿`, `Qué`, `▁tal`, `?` and back again exactly.
///   A literal '▁' in the text is an ordinary character that never enters
///   the alphabet (it is spelt out in bytes, or is unknown).
public enum SubwordPreTokenizer {
    /// The word-boundary marker.
    public static let marker: Unicode.Scalar = "\u{2581}"
    /// The longest run of letters or digits kept as one piece.
    public static let maxPieceLength = 64

    /// One piece: its characters, and whether a space (or the start of the
    /// text) comes before it.
    public struct Piece: Hashable, Sendable, CustomStringConvertible {
        public var spaceBefore: Bool
        public var body: String

        public init(spaceBefore: Bool, body: String) {
            self.spaceBefore = spaceBefore
            self.body = body
        }

        /// The piece as BPE sees it: '▁' + body when a space comes before.
        public var description: String { spaceBefore ? "\(SubwordPreTokenizer.marker)\(body)" : body }
    }

    /// NFC, whitespace runs as single spaces, none leading or trailing.
    public static func normalize(_ text: String) -> String {
        let pieces = pieces(text)
        var out = String.UnicodeScalarView()
        for (i, p) in pieces.enumerated() {
            if p.spaceBefore && i > 0 { out.append(" ") }
            out.append(contentsOf: p.body.unicodeScalars)
        }
        return String(out)
    }

    /// A quick check that needs no normalisation: every scalar is below
    /// U+0300 (Latin-1, Latin Extended-A/B, IPA) or common punctuation
    /// (U+2010-U+2027, U+2030-U+205E, €). None of these has a canonical
    /// decomposition or composes with what comes before it, so such text is
    /// NFC already. Other text goes through Foundation's NFC, which is slower.
    static func isNFC(_ text: String) -> Bool {
        for b in text.utf8 where b >= 0x80 {
            return text.unicodeScalars.allSatisfy {
                $0.value < 0x300 || (0x2010...0x2027).contains($0.value) || (0x2030...0x205E).contains($0.value) || $0.value == 0x20AC
            }
        }
        return true
    }

    enum Kind { case space, letter, digit, mark, other }

    static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.value < 0x80 {
            let v = s.value
            if v == 0x20 || (0x09...0x0D).contains(v) { return .space }
            if (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) { return .letter }
            if (0x30...0x39).contains(v) { return .digit }
            return .other
        }
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .nonspacingMark, .spacingMark, .enclosingMark: return .mark
        case .decimalNumber: return .digit
        default: return .other
        }
    }

    /// The pieces of `text` (normalised to NFC first).
    public static func pieces(_ text: String) -> [Piece] {
        let nfc = isNFC(text) ? text : text.precomposedStringWithCanonicalMapping
        let scalars = nfc.unicodeScalars
        var pieces: [Piece] = []
        var bodyStart = scalars.startIndex
        var bodyKind = Kind.other
        var length = 0
        var spaceBefore = true  // the first piece carries the marker
        var pieceSpace = true

        var i = scalars.startIndex
        func flush() {
            guard length > 0 else { return }
            pieces.append(Piece(spaceBefore: pieceSpace, body: String(Substring(scalars[bodyStart..<i]))))
            length = 0
        }
        func start(_ k: Kind) {
            flush()
            bodyStart = i
            length = 1
            bodyKind = k
            pieceSpace = spaceBefore
            spaceBefore = false
        }

        while i < scalars.endIndex {
            let s = scalars[i]
            let k = kind(s)
            switch k {
            case .space:
                flush()
                spaceBefore = true
            case .letter, .digit:
                if length > 0 && bodyKind == k && length < maxPieceLength {
                    length += 1
                } else {
                    start(k)
                }
            case .mark:
                // A mark belongs to the run before it; on its own it is a piece.
                if length > 0 && (bodyKind == .letter || bodyKind == .digit) && length < maxPieceLength {
                    length += 1
                } else {
                    start(.other)
                }
            case .other:
                start(.other)
            }
            scalars.formIndex(after: &i)
        }
        flush()
        return pieces
    }
}
