/// The "13a" tokenization of mteval-v13a.pl, as sacrebleu applies it before
/// BLEU (sacrebleu `tokenizers/tokenizer_13a.py` and `tokenizer_re.py`):
/// ASCII symbols become tokens of their own, a period or comma is split off
/// unless it sits between digits, a hyphen after a digit is split off, and
/// nothing else is touched (so "¿Qué" and "l'homme" stay whole).
///
/// Everything works on Unicode scalars, as Python's `re` does on code points:
/// no normalisation, so "é" and "e\u{301}" are different, as in sacrebleu.
public enum Tokenizer13a {
    /// The tokens of one line (sacrebleu's output split on whitespace).
    public static func tokenize(_ line: String) -> [String] {
        scalarTokens(line).map { w in
            var t = String.UnicodeScalarView()
            t.append(contentsOf: w)
            return String(t)
        }
    }

    /// The tokens as scalars, for counting n-grams without Swift's canonical
    /// equivalence (String's `==` would merge what sacrebleu keeps apart).
    static func scalarTokens(_ line: String) -> [ArraySlice<Unicode.Scalar>] {
        var s = Array(line.unicodeScalars)
        s = PythonText.rstrip(s)  // BLEU._preprocess_segment: tokenizer(sent.rstrip())
        s = replace(s, "<skipped>", "")
        s = replace(s, "-\n", "")
        s = replace(s, "\n", " ")
        if s.contains("&") {
            s = replace(s, "&quot;", "\"")
            s = replace(s, "&amp;", "&")
            s = replace(s, "&lt;", "<")
            s = replace(s, "&gt;", ">")
        }
        s = [" "] + s + [" "]
        // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count * 2)
        for c in s {
            if isSymbol(c) { out += [" ", c, " "] } else { out.append(c) }
        }
        // ([^0-9])([\.,]) -> "\1 \2 "
        out = pairs(out, { !isDigit($0) && isPeriodOrComma($1) }) { [$0, " ", $1, " "] }
        // ([\.,])([^0-9]) -> " \1 \2"
        out = pairs(out, { isPeriodOrComma($0) && !isDigit($1) }) { [" ", $0, " ", $1] }
        // ([0-9])(-) -> "\1 \2 "
        out = pairs(out, { isDigit($0) && $1 == "-" }) { [$0, " ", $1, " "] }
        return PythonText.words(out)
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
    static func isPeriodOrComma(_ c: Unicode.Scalar) -> Bool { c == "." || c == "," }

    /// { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +  : ; < = > ? @  /
    static func isSymbol(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x7B...0x7E, 0x5B...0x60, 0x20...0x26, 0x28...0x2B, 0x3A...0x40, 0x2F: return true
        default: return false
        }
    }

    /// `re.sub` of a two-character pattern: leftmost matches, not overlapping.
    static func pairs(_ s: [Unicode.Scalar], _ matches: (Unicode.Scalar, Unicode.Scalar) -> Bool,
                      _ replacement: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count + s.count / 2)
        var i = 0
        while i < s.count {
            if i + 1 < s.count, matches(s[i], s[i + 1]) {
                out += replacement(s[i], s[i + 1])
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `str.replace`: every non-overlapping occurrence, left to right.
    static func replace(_ s: [Unicode.Scalar], _ pattern: String, _ with: String) -> [Unicode.Scalar] {
        let p = Array(pattern.unicodeScalars), w = Array(with.unicodeScalars)
        guard !p.isEmpty, s.count >= p.count else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + p.count <= s.count, s[i] == p[0], Array(s[i..<i + p.count]) == p {
                out += w
                i += p.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}

/// Python's notion of whitespace (`str.split()` with no argument, `str.rstrip()`),
/// which the metrics follow to split exactly where sacrebleu does.
enum PythonText {
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    static func rstrip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var end = s.count
        while end > 0, isSpace(s[end - 1]) { end -= 1 }
        return Array(s[0..<end])
    }

    /// The runs of non-whitespace scalars.
    static func words(_ s: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start: Int? = nil
        for (i, c) in s.enumerated() {
            if isSpace(c) {
                if let b = start { words.append(s[b..<i]); start = nil }
            } else if start == nil {
                start = i
            }
        }
        if let b = start { words.append(s[b..<s.count]) }
        return words
    }
}
