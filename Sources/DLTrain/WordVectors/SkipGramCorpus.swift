import DLText
import Foundation

/// A text corpus for skip-gram: sentences of word ids over a vocabulary built
/// from the corpus itself (the words seen at least `minCount` times, most
/// frequent first, `Vocabulary`'s reserved <pad>/<unk> first). Rarer words
/// are dropped from the sentences, as word2vec drops them, so they are
/// neither centres nor contexts.
public struct SkipGramCorpus: Sendable {
    public let vocabulary: Vocabulary
    /// Sentences as ids (no reserved id appears), empty sentences dropped.
    public let sentences: [[Int]]
    /// Occurrences of each id in the corpus (0 for the reserved ids).
    public let counts: [Int]

    public var tokenCount: Int { sentences.reduce(0) { $0 + $1.count } }

    /// From tokenized sentences.
    public init(sentences tokens: [[String]], minCount: Int = 1, maxWords: Int = 50_000) {
        let vocabulary = Vocabulary.build(from: tokens, minCount: minCount, maxSize: maxWords)
        var counts = [Int](repeating: 0, count: vocabulary.count)
        var sentences: [[Int]] = []
        for t in tokens {
            let ids = vocabulary.encode(t).ids.filter { $0 > Vocabulary.unknownID }
            for i in ids { counts[i] += 1 }
            if !ids.isEmpty { sentences.append(ids) }
        }
        self.vocabulary = vocabulary
        self.sentences = sentences
        self.counts = counts
    }

    /// Reads a UTF-8 text file, one sentence a line; with `column`, the line
    /// is tab-separated and the sentence is its column `column` (0-based),
    /// e.g. 1 for data/sentiment-rt/train.tsv (LABEL<TAB>TEXT). Throws
    /// `TrainingError.dataset` naming the file and line.
    public static func read(_ url: URL, column: Int? = nil, tokenizer: Tokenizer = Tokenizer(lowercase: true)) throws -> [[String]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TrainingError.dataset("cannot read \(url.path) as UTF-8 text")
        }
        var out: [[String]] = []
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var sentence = Substring(line)
            if let column {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard column < fields.count else {
                    if line.allSatisfy(\.isWhitespace) { continue }
                    throw TrainingError.dataset("\(url.lastPathComponent) line \(n + 1) has \(fields.count) tab-separated fields, no column \(column)")
                }
                sentence = fields[column]
            }
            let tokens = tokenizer.tokenize(String(sentence))
            if !tokens.isEmpty { out.append(tokens) }
        }
        return out
    }
}
