/// Puts spaces where Spanish (and English) typography wants them: none before
/// closing punctuation, none after opening punctuation.
///
/// `detokenize` joins words that carry no spacing at all (a word
/// tokenizer's output) into text. `tidy` cleans a decoded translation (BPE
/// decoding already restores the spaces the model produced; this removes
/// stray ones such as "Hola ," or "¿ Qué") under the same rules, more
/// cautiously, since the text's own spaces are evidence. (BLEU with 13a
/// tokenization and chrF do not see these spaces either way.)
///
/// - no space before `. , ; : ! ? ) ] } » …` and closing quotes `” ’ ›`;
/// - no space after `¿ ¡ ( [ { «` and opening quotes `“ ‘ ‹`;
/// - a straight double quote `"` opens and closes in turn (a space before
///   the opening one, none after it; none before the closing one);
/// - `detokenize` only: an apostrophe between letters joins them
///   (`don ' t` -> `don't`), and `.` `,` `:` between two numbers join them
///   (`3 : 16` -> `3:16`, `1 , 5` -> `1,5`).
public enum Detokenizer {
    static let closing: Set<Character> = [".", ",", ";", ":", "!", "?", ")", "]", "}", "»", "…", "”", "’", "›"]
    static let opening: Set<Character> = ["¿", "¡", "(", "[", "{", "«", "“", "‘", "‹"]
    static let terminal: Set<Character> = [".", ",", ";", ":", "!", "?", "…"]
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

    /// Removes stray spaces around punctuation in `text` (after
    /// `SubwordPreTokenizer.normalize`): a space goes before `. , ; : ! ? …`
    /// that follow a word or a closing bracket or quote ("Hola , mundo ." ->
    /// "Hola, mundo."), before a closing bracket or quote that follows a word,
    /// another closer, or a word and its period ("« Sí. »" -> "«Sí.»"), and
    /// after opening punctuation followed by a word or another opener
    /// ("¿ Qué" -> "¿Qué"). Straight double quotes open and
    /// close in turn over the text. Other spaces stay: "1, 2, 3", `(" ")`,
    /// "(a, b, /, :)" and "50 %" (the RAE's spacing) are left alone.
    public static func tidy(_ text: String) -> String {
        let chars = Array(SubwordPreTokenizer.normalize(text))
        var opens = Array(repeating: false, count: chars.count)
        var open = false
        for (i, c) in chars.enumerated() where c == "\"" {
            open.toggle()
            opens[i] = open
        }
        func word(_ i: Int) -> Bool { i >= 0 && (chars[i].isLetter || chars[i].isNumber) }
        // Closing brackets and quotes; terminal punctuation is the rest of `closing`.
        func closer(_ i: Int) -> Bool {
            (closing.contains(chars[i]) && !terminal.contains(chars[i])) || (chars[i] == "\"" && !opens[i])
        }
        func opener(_ i: Int) -> Bool { opening.contains(chars[i]) || (chars[i] == "\"" && opens[i]) }
        /// The space at `i` goes: "word ," "» ," "word »" "word. »".
        func joinsLeft(_ i: Int) -> Bool {
            let l = i - 1, r = i + 1
            if terminal.contains(chars[r]) { return word(l) || closer(l) }
            if closer(r) { return word(l) || closer(l) || (terminal.contains(chars[l]) && word(l - 1)) }
            return false
        }
        /// The space at `i` goes: "¿ word" "« ¿" "( «".
        func joinsRight(_ i: Int) -> Bool { opener(i - 1) && (word(i + 1) || opener(i + 1)) }
        var out = ""
        for (i, c) in chars.enumerated() {
            if c == " ", i > 0, i + 1 < chars.count {
                if joinsLeft(i) || joinsRight(i) { continue }
            }
            out.append(c)
        }
        return out
    }

    static func isNumber(_ s: String) -> Bool { !s.isEmpty && s.allSatisfy(\.isNumber) }
}
