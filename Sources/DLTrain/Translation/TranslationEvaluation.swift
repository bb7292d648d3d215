import DLNN
import DLTensor
import DLText

/// Dev-set measures of a translation model.
public enum TranslationEvaluation {
    /// Teacher-forced cross-entropy (no smoothing) per target token, and the
    /// fraction of target tokens whose argmax is right. Padding does not count.
    public static func teacherForced(_ model: GraphModel, _ pairs: [EncodedPair], batchTokens: Int) -> (loss: Float, accuracy: Float) {
        guard !pairs.isEmpty else { return (.nan, .nan) }
        var lossSum: Double = 0, right = 0, total = 0
        for indices in TranslationBatching.batches(pairs, batchTokens: batchTokens) {
            let batch = TranslationBatch(indices.map { pairs[$0] })
            let logits = model.infer(inputs: batch.inputs)[model.spec.output]!
            let loss = GradMode.withoutGrad {
                sequenceCrossEntropy(logits: logits, targets: batch.tgtOut, ignoreIndex: TranslationBatch.padding)
            }
            lossSum += Double(loss.scalar) * Double(batch.targetTokens)
            let predicted = logits.argmaxLastAxis()
            for (i, t) in batch.tgtOut.data.enumerated() where t != Float(TranslationBatch.padding) {
                total += 1
                if Float(predicted[i]) == t { right += 1 }
            }
        }
        return (Float(lossSum / Double(max(total, 1))), Float(right) / Float(max(total, 1)))
    }

    /// Greedy decoding: each source's target ids without `<bos>`/`<eos>`, at
    /// most `2 * source length + 10` of them. Runs the graph's incremental
    /// decoder (`GraphDecoder`: cached keys and values for a transformer,
    /// carried state for an RNN) when it has one, else `greedyByRecomputation`;
    /// both give the same ids up to float rounding on near ties.
    public static func greedy(_ model: GraphModel, sources: [[Int]], batchSize: Int = 32) -> [[Int]] {
        guard let decoder = try? makeIncrementalDecoder(model: model) else {
            return greedyByRecomputation(model, sources: sources, batchSize: batchSize)
        }
        var out: [[Int]] = []
        for chunkStart in stride(from: 0, to: sources.count, by: batchSize) {
            let chunk = Array(sources[chunkStart..<min(chunkStart + batchSize, sources.count)])
            var searches = chunk.map {
                GreedySearch(options: DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID,
                                                      beamWidth: 1, maxLength: 2 * $0.count + 10))
            }
            do { try runSearches(decoder, sources: chunk, searches: &searches) } catch {
                // A source id outside the vocabulary: let the graph say so.
                return greedyByRecomputation(model, sources: sources, batchSize: batchSize)
            }
            out += searches.map { $0.result.hypotheses.first.map { Array($0.content) } ?? [] }
        }
        return out
    }

    /// Greedy decoding by full recomputation: each step runs the whole model
    /// on the prefix so far and appends the argmax of the last position
    /// (correct, O(T^2); the reference the incremental decoders must equal).
    public static func greedyByRecomputation(_ model: GraphModel, sources: [[Int]], batchSize: Int = 32) -> [[Int]] {
        var out: [[Int]] = []
        for chunkStart in stride(from: 0, to: sources.count, by: batchSize) {
            let chunk = Array(sources[chunkStart..<min(chunkStart + batchSize, sources.count)])
            let n = chunk.count, s = chunk.map(\.count).max()!
            var src = [Float](repeating: 0, count: n * s)
            for (i, q) in chunk.enumerated() { for (j, id) in q.enumerated() { src[i * s + j] = Float(id) } }
            let srcT = Tensor(shape: [n, s], data: src)
            var prefixes = [[Int]](repeating: [BPEModel.beginningID], count: n)
            var done = [Bool](repeating: false, count: n)
            let limit = 2 * s + 10
            while done.contains(false) && prefixes[0].count <= limit {
                let t = prefixes[0].count
                let tgt = Tensor(shape: [n, t], data: prefixes.flatMap { $0.map(Float.init) })
                let logits = model.infer(inputs: ["src": srcT, "tgt": tgt])[model.spec.output]!
                let argmax = logits.argmaxLastAxis()
                for i in 0..<n {
                    if done[i] { prefixes[i].append(TranslationBatch.padding); continue }
                    let next = argmax[i * t + t - 1]
                    prefixes[i].append(next)
                    if next == BPEModel.endID || prefixes[i].count > 2 * chunk[i].count + 10 { done[i] = true }
                }
            }
            out += prefixes.map { Array($0.dropFirst().prefix { $0 != BPEModel.endID && $0 != TranslationBatch.padding }) }
        }
        return out
    }

    /// Corpus BLEU (0-100) of detokenized hypotheses against references.
    public static func bleu(hypotheses: [String], references: [String]) throws -> Double {
        try BLEU.corpus(hypotheses: hypotheses, references: references).score
    }
}
