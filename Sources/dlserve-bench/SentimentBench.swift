import DLKernels
import DLNN
import DLTensor
import DLText
import Foundation

/// The shipped sentiment model (`models/sentiment-rt/1`: embedding, bidirectional
/// GRU, max+mean pooling, dense) on sentences of realistic length: the test
/// split's, tokenized and encoded as the daemon does it, run through
/// `GraphModel.infer` as the daemon serves text models.
///
/// Batch 1 cycles through the sentences in file order; batch 32 takes 32
/// consecutive sentences, padded with id 0 to the longest of them.
struct SentimentBench {
    static let modelName = "sentiment-rt"
    static let version = 1
    static let batch = 32

    let model: GraphModel
    /// Token ids of every test sentence, in file order.
    let texts: [[Int]]

    /// nil (with the reason) when the model or the test split is not on disk
    /// (`make data-sentiment` writes the split).
    static func load(models: URL = URL(fileURLWithPath: "models"),
                     sentences: URL = URL(fileURLWithPath: "data/sentiment-rt/test.tsv")) -> Result<SentimentBench, Error> {
        Result {
            let loaded = try ModelRepository(root: models).load(modelName, version: version)
            guard let text = loaded.config.input.text else { throw ModelError.architecture("\(modelName) is not a text model") }
            let vocabulary = try Vocabulary.load(loaded.directory.appendingPathComponent(text.vocabulary))
            let tokenizer = Tokenizer(lowercase: text.lowercase)
            let lines = try String(contentsOf: sentences, encoding: .utf8).split(separator: "\n")
            let texts = lines.compactMap { line -> [Int]? in
                guard let tab = line.firstIndex(of: "\t") else { return nil }
                let ids = vocabulary.encode(tokenizer.tokenize(String(line[line.index(after: tab)...]))).ids
                return ids.isEmpty ? nil : Array(ids.prefix(text.maxLength))
            }
            guard !texts.isEmpty else { throw ModelError.io("\(sentences.path) holds no sentences") }
            return SentimentBench(model: loaded.model, texts: texts)
        }
    }

    /// Sentence i (cycling) as a batch of one: [1, length].
    func single(_ i: Int) -> Tensor {
        let ids = texts[i % texts.count]
        return Tensor(shape: [1, ids.count], data: ids.map(Float.init))
    }

    /// Batch j (cycling): sentences 32j ..< 32j + 32, padded to the longest: [32, T].
    func padded(_ j: Int) -> Tensor {
        let rows = (0..<Self.batch).map { texts[(j * Self.batch + $0) % texts.count] }
        let t = rows.map(\.count).max()!
        var data = [Float](repeating: 0, count: rows.count * t)
        for (r, ids) in rows.enumerated() { for (s, id) in ids.enumerated() { data[r * t + s] = Float(id) } }
        return Tensor(shape: [rows.count, t], data: data)
    }

    /// Mean sentence length in tokens.
    var meanLength: Double { Double(texts.map(\.count).reduce(0, +)) / Double(texts.count) }

    /// Milliseconds of each of `count` batch-1 runs (sentences 0, 1, ...).
    func latencies(_ count: Int) -> [Double] {
        for i in 0..<10 { _ = model.infer(single(i)) }
        let inputs = (0..<count).map(single)
        return inputs.map { x in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = model.infer(x)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// Milliseconds of each of `count` batch-32 runs (batches 0, 1, ...).
    func batchTimes(_ count: Int) -> [Double] {
        _ = model.infer(padded(0))
        let inputs = (0..<count).map(padded)
        return inputs.map { x in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = model.infer(x)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// `dlserve-bench --sentiment-inputs`: the token ids of every sentence,
    /// dlserve's logits for the first `alone` sentences run one at a time and
    /// for padded batch 0, as JSON, so that a peer runs the same ids and first
    /// checks that it computes the same function.
    func inputsJSON(alone: Int = 8) -> String {
        let k = model.outputShape.product
        func rows(_ t: Tensor) -> [[Float]] { (0..<t.shape[0]).map { Array(t.data[($0 * k)..<($0 * k + k)]) } }
        let single = (0..<min(alone, texts.count)).map { rows(model.infer(self.single($0)))[0] }
        return "{\"texts\": \(texts),\n\"alone\": \(single),\n\"batch0\": \(rows(model.infer(padded(0))))}"
    }
}
