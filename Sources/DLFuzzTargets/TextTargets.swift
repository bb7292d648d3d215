import DLText
import Foundation

/// The tokenizers text requests and the BLEU/chrF scorers go through, and the
/// subword files a translation model ships.
enum TextTargets {
    /// The shipped translation model's subwords (a small learnt model when the
    /// repository's models are not beside the sources).
    static let subwords: TranslationSubwords = {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../models/translate-en-es/3").standardizedFileURL
        if let s = try? TranslationSubwords.load(from: shipped) { return s }
        let pairs = [("the cat sat on the mat", "el gato se sentó en la alfombra"), ("a dog", "un perro")]
        return TranslationSubwords.learn(pairs.map { (source: $0.0, target: $0.1) }, shared: true)
    }()
    static let vocabulary = try! Vocabulary(words: ["<pad>", "<unk>", "the", "a", "film", "good", "bad", "n't", "'s"])

    /// `MODE (1 byte) | text`: the word tokenizer (lowercase or not) with a
    /// vocabulary, the subword pre-tokenizer and BPE both ways, sacrebleu's
    /// 13a tokenizer, the detokenizer, BLEU and chrF of the text against itself.
    static let tokenizers = FuzzTarget("tokenizers", "word, subword (BPE) and 13a tokenizers, detokenizer, BLEU/chrF") { bytes in
        var input = FuzzInput(bytes)
        let mode = input.byte()
        let text = String(decoding: input.rest, as: UTF8.self)
        switch mode % 6 {
        case 0, 1:
            _ = vocabulary.encode(Tokenizer(lowercase: mode % 6 == 0).tokenize(text))
        case 2:
            _ = SubwordPreTokenizer.pieces(SubwordPreTokenizer.normalize(text))
            let ids = subwords.encodeSource(text)
            _ = subwords.decodeTarget(ids)
        case 3:
            // Arbitrary ids (16-bit, beyond the vocabulary too) decoded.
            let raw = input.rest
            let ids = stride(from: 0, to: raw.count - 1, by: 2).map { Int(raw[$0]) | Int(raw[$0 + 1]) << 8 }
            _ = subwords.decodeTarget(ids)
        case 4:
            _ = Detokenizer.detokenize(Tokenizer13a.tokenize(text))
            _ = Detokenizer.tidy(text)
        default:
            let halves = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let (h, r) = (halves[0], halves.count > 1 ? halves[1] : halves[0])
            return (try? BLEU.corpus(hypotheses: [h], references: [r])) != nil && (try? ChrF.corpus(hypotheses: [h], references: [r])) != nil
        }
        return true
    }

    /// `VOCAB_LENGTH (2 bytes) | NAME.vocab.txt | NAME.merges.txt`, then the model encodes and decodes a sentence.
    static let bpeFiles = FuzzTarget("bpe-files", "a translation model's bpe.vocab.txt and bpe.merges.txt") { bytes in
        var input = FuzzInput(bytes)
        let length = input.uint16()
        let rest = input.rest
        let split = min(length, rest.count)
        guard let model = try? BPEModel.parse(vocabulary: Data(rest[..<split]), merges: Data(rest[split...])) else { return false }
        let tokenizer = BPETokenizer(model: model)
        _ = tokenizer.decode(tokenizer.encode("Hello, wörld! 123 naïve café", addBeginning: true, addEnd: true))
        return true
    }
}
