import DLNN
import DLTensor
import DLText
import Foundation

/// Labelled text datasets: a directory with `train.tsv`, `test.tsv`, an
/// optional `dev.tsv` (lines `LABEL<TAB>TEXT`) and `classes.txt` (one label a
/// line, in class-index order), as `make data-sentiment` writes
/// `data/sentiment-rt`. The vocabulary is built from the training split only
/// (every word seen there, most frequent first); dev and test are encoded with
/// it, their unseen words as the unknown id. Texts are cut to `maxLength`
/// tokens and padded with id 0 to the longest in the split.
public enum TextDataset {
    public static let maxLength = 128

    public static func isTextDataset(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent("train.tsv").path)
    }

    public static func file(_ dir: URL, _ split: String) -> URL { dir.appendingPathComponent("\(split).tsv") }

    public static func classes(_ dir: URL) throws -> [String] {
        let f = dir.appendingPathComponent("classes.txt")
        guard let text = try? String(contentsOf: f, encoding: .utf8) else {
            throw TrainingError.dataset("\(f.path) is missing (one class name a line)")
        }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count >= 2 else { throw TrainingError.dataset("\(f.path) names fewer than two classes") }
        return names
    }

    /// The vocabulary of the training split.
    public static func vocabulary(_ dir: URL, tokenizer: Tokenizer = Tokenizer()) throws -> Vocabulary {
        let train = try read(file(dir, "train"))
        return Vocabulary.build(from: train.texts.map(tokenizer.tokenize))
    }

    /// One split ("train", "dev" or "test") encoded with the training vocabulary.
    public static func load(_ dir: URL, split: String, tokenizer: Tokenizer = Tokenizer(),
                            maxLength: Int = TextDataset.maxLength, vocabulary given: Vocabulary? = nil) throws -> Dataset {
        let classes = try classes(dir)
        let vocab = try given ?? vocabulary(dir, tokenizer: tokenizer)
        let data = try read(file(dir, split))
        var labels: [Int] = []
        for (i, l) in data.labels.enumerated() {
            guard let c = classes.firstIndex(of: l) else {
                throw TrainingError.dataset("\(split).tsv line \(i + 1): label '\(l)' is not in classes.txt \(classes)")
            }
            labels.append(c)
        }
        let ids = data.texts.map { Array(vocab.encode(tokenizer.tokenize($0)).ids.prefix(maxLength)) }
        let t = max(1, ids.map(\.count).max() ?? 1)
        var flat = [Float](repeating: 0, count: ids.count * t)
        for (r, row) in ids.enumerated() { for (j, v) in row.enumerated() { flat[r * t + j] = Float(v) } }
        return try Dataset(images: Tensor(shape: [ids.count, t], data: flat), labels: labels, classes: classes, vocabulary: vocab)
    }

    public static func count(_ dir: URL, split: String) throws -> Int { try read(file(dir, split)).texts.count }

    static func read(_ url: URL) throws -> LabelledText {
        do { return try LabelledText.load(url) } catch let e as TextError { throw TrainingError.dataset("\(e)") }
    }

    /// Copies pretrained vectors (a word-vector model directory version:
    /// `vocab.txt` and `weights.safetensors` with "embedding.weight", or the
    /// `vectors.safetensors` of a directory made by an older prepare_glove.py)
    /// into the rows of `embedding` for the words of `vocabulary` that have
    /// one. Returns how many words were found.
    @discardableResult
    public static func initialize(_ embedding: Embedding, vocabulary: Vocabulary, from dir: URL) throws -> Int {
        let words: Vocabulary.Plain
        do { words = try Vocabulary.Plain.load(dir.appendingPathComponent("vocab.txt")) } catch {
            throw TrainingError.invalidRecipe("model.embeddings: \(dir.path)/vocab.txt: \(error)")
        }
        var weights = GraphModel.weightsFileName
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent(weights).path) { weights = "vectors.safetensors" }
        let file: SafetensorsFile
        do { file = try Safetensors.read(contentsOf: dir.appendingPathComponent(weights)) } catch {
            throw TrainingError.invalidRecipe("model.embeddings: \(dir.path)/\(weights): \(error)")
        }
        guard let table = file.tensors["embedding.weight"], table.rank == 2, table.shape[0] == words.words.count else {
            throw TrainingError.invalidRecipe("model.embeddings: \(weights) needs 'embedding.weight' [\(words.words.count), dim]")
        }
        guard table.shape[1] == embedding.dim else {
            throw TrainingError.invalidRecipe("model.embeddings: vectors of \(table.shape[1]) dimensions for an embedding of \(embedding.dim)")
        }
        let d = embedding.dim
        var found = 0
        for (i, w) in vocabulary.words.enumerated() where i >= 2 {
            guard let r = words.index[w] else { continue }
            embedding.setRow(i, Array(table.data[(r * d)..<((r + 1) * d)]))
            found += 1
        }
        return found
    }
}

extension Vocabulary {
    /// A plain word list (a word-vector model's `vocab.txt`, no reserved ids).
    public struct Plain: Sendable {
        public let words: [String]
        public let index: [String: Int]

        public static func load(_ url: URL) throws -> Plain {
            let words = try Vocabulary.lines(of: url)
            var index: [String: Int] = [:]
            for (i, w) in words.enumerated() where index[w] == nil { index[w] = i }
            return Plain(words: words, index: index)
        }
    }
}
