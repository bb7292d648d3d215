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
            right += correctTokens(logits, targets: batch.tgtOut)
            total += batch.targetTokens
        }
        return (Float(lossSum / Double(max(total, 1))), Float(right) / Float(max(total, 1)))
    }

    /// How many non-padding targets are the argmax of their logits row.
    public static func correctTokens(_ logits: Tensor, targets: Tensor) -> Int {
        let predicted = logits.argmaxLastAxis()
        var right = 0
        for (i, t) in targets.data.enumerated() where t != Float(TranslationBatch.padding) && Float(predicted[i]) == t {
            right += 1
        }
        return right
    }

    /// Decodes sources (subword ids ending with `<eos>`) with the graph's
    /// incremental decoder (`makeIncrementalDecoder`: cached keys and values
    /// for a transformer, carried state for an RNN; no prefix recomputation) and
    /// the search `options` ask for (`beamWidth` 1 = greedy). Sources are
    /// decoded in batches of `batchSize` of similar length; each source may
    /// emit at most `2 * its length + 10` tokens unless `options.maxLength`
    /// is smaller. Returns the best hypothesis' ids per source, in order,
    /// without `<eos>`.
    public static func translate(_ model: GraphModel, sources: [[Int]], options: DecodingOptions,
                                 batchSize: Int = 32) throws -> [[Int]] {
        try decodeAll(model, sources: sources, options: options, batchSize: batchSize).map { Array($0.best?.content ?? []) }
    }

    /// `translate` with every decoding result (n-best lists, scores).
    public static func decodeAll(_ model: GraphModel, sources: [[Int]], options: DecodingOptions,
                                 batchSize: Int = 32) throws -> [DecodingResult] {
        let stepper = try makeIncrementalDecoder(model: model)
        try options.validate(vocabularySize: stepper.vocabularySize)
        let order = sources.indices.sorted { sources[$0].count < sources[$1].count }
        var out = [DecodingResult](repeating: DecodingResult(hypotheses: [], steps: 0), count: sources.count)
        for chunkStart in stride(from: 0, to: order.count, by: max(1, batchSize)) {
            let indices = Array(order[chunkStart..<min(chunkStart + max(1, batchSize), order.count)])
            let chunk = indices.map { sources[$0] }
            func limited(_ source: [Int]) -> DecodingOptions {
                var o = options
                o.maxLength = min(options.maxLength, 2 * source.count + 10)
                return o
            }
            let results: [DecodingResult]
            if options.beamWidth == 1 {
                var searches = chunk.map { GreedySearch(options: limited($0)) }
                try runSearches(stepper, sources: chunk, searches: &searches)
                results = searches.map(\.result)
            } else {
                var searches = chunk.map { BeamSearch(options: limited($0)) }
                try runSearches(stepper, sources: chunk, searches: &searches)
                results = searches.map(\.result)
            }
            for (i, r) in zip(indices, results) { out[i] = r }
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

    /// Greedy decoding options for subword ids (`<bos>` 2, `<eos>` 3).
    public static func greedyOptions(maxLength: Int = 512) -> DecodingOptions {
        DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: 1, maxLength: maxLength)
    }

    /// Greedy translation of sources; see `translate`.
    public static func greedy(_ model: GraphModel, sources: [[Int]], batchSize: Int = 32) throws -> [[Int]] {
        try translate(model, sources: sources, options: greedyOptions(), batchSize: batchSize)
    }

    /// Corpus BLEU (0-100) of detokenized hypotheses against references.
    public static func bleu(hypotheses: [String], references: [String]) throws -> Double {
        try BLEU.corpus(hypotheses: hypotheses, references: references).score
    }
}
