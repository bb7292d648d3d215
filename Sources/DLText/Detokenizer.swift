/// Puts spaces where Spanish (and English) typography wants them: none before
/// closing punctuation, none after opening punctuation.
///
/// `tidy` cleans a decoded translation (BPE decoding already restores the
/// spaces the model produced; this removes stray ones such as "Hola ," or
/// "¿ Qué"). `detokenize` joins words that carry no spacing at all (a word
/// tokenizer's output) into text under the same rules.
///
/// - no space before `. , ; : ! ? ) ] } » … %` and closing quotes `” ’ ›`;
/// - no space after `¿ ¡ ( [ { «` and opening quotes `“ ‘ ‹`;
/// - a straight double quote `"` opens and closes in turn (a space before
///   the opening one, none after it; none before the closing one);
/// - an apostrophe between letters joins them (`don ' t` -> `don't`);
/// - `.` `,` `:` between two digits join them (`3 : 16` -> `3:16`, `1 , 5` -> `1,5`).
public enum Detokenizer {
    static let closing: Set<Character> = [".", ",", ";", ":", "!", "?", ")", "]", "}", "»", "…", "%", "”", "’", "›"]
    static let opening: Set<Character> = ["¿", "¡", "(", "[", "{", "«", "“", "‘", "‹"]
    static let numberJoiners: Set<Character> = [".", ",", ":"]

    /// Joins `words` into text.
    public static func detokenize(_ words: [String]) -> String {
        var out = ""
        var noSpaceNext = true  // no space before the first word
        var quoteOpen = false
        for (i, w) in words.enumerated() where !w.isEmpty {
            let prev = i > 0 ? words[i - 1] : ""
            let next = i + 1 < words.count ? words[i + 1] : ""
            var spaceBefore = !noSpaceNext
            noSpaceNext = false
            if w.count == 1, let c = w.first {
                if c == "\"" {
                    if quoteOpen { spaceBefore = false } else { noSpaceNext = true }
                    quoteOpen.toggle()
                } else if c == "'" && (prev.last?.isLetter ?? false) && (next.first?.isLetter ?? false) {
                    spaceBefore = false
                    noSpaceNext = true
                } else if numberJoiners.contains(c) && isNumber(prev) && isNumber(next) {
                    spaceBefore = false
                    noSpaceNext = true
                } else if closing.contains(c) {
                    spaceBefore = false
                } else if opening.contains(c) {
                    noSpaceNext = true
                }
            }
            if spaceBefore && !out.isEmpty { out += " " }
            out += w
        }
        return out
    }

    /// Removes stray spaces around punctuation in `text` (words are split on
    /// spaces and joined again by `detokenize`).
    public static func tidy(_ text: String) -> String {
        detokenize(splitKeepingWords(text))
    }

    /// Splits on spaces, and splits the punctuation listed above off the
    /// start and end of each word, so "( hola )" and "(hola)" read alike.
    static func splitKeepingWords(_ text: String) -> [String] {
        var out: [String] = []
        for raw in text.split(whereSeparator: \.isWhitespace) {
            var word = Substring(raw)
            var head: [String] = []
            var tail: [String] = []
            while let c = word.first, word.count > 1, opening.contains(c) || c == "\"" {
                head.append(String(c))
                word = word.dropFirst()
            }
            while let c = word.last, word.count > 1, closing.contains(c) || c == "\"" {
                tail.insert(String(c), at: 0)
                word = word.dropLast()
            }
            out += head
            out.append(String(word))
            out += tail
        }
        return out
    }

    static func isNumber(_ s: String) -> Bool { !s.isEmpty && s.allSatisfy(\.isNumber) }
}
