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
        let nfc = text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
        var pieces: [Piece] = []
        var body = String.UnicodeScalarView()
        var bodyKind = Kind.other
        var length = 0
        var spaceBefore = true  // the first piece carries the marker
        var pieceSpace = true

        func flush() {
            guard length > 0 else { return }
            pieces.append(Piece(spaceBefore: pieceSpace, body: String(body)))
            body = String.UnicodeScalarView()
            length = 0
        }
        func start(_ s: Unicode.Scalar, _ k: Kind) {
            flush()
            body.append(s)
            length = 1
            bodyKind = k
            pieceSpace = spaceBefore
            spaceBefore = false
        }

        for s in nfc.unicodeScalars {
            let k = kind(s)
            switch k {
            case .space:
                flush()
                spaceBefore = true
            case .letter, .digit:
                if length > 0 && bodyKind == k && length < maxPieceLength {
                    body.append(s)
                    length += 1
                } else {
                    start(s, k)
                }
            case .mark:
                // A mark belongs to the run before it; on its own it is a piece.
                if length > 0 && (bodyKind == .letter || bodyKind == .digit) && length < maxPieceLength {
                    body.append(s)
                    length += 1
                } else {
                    start(s, .other)
                }
            case .other:
                start(s, .other)
            }
        }
        flush()
        return pieces
    }
}
