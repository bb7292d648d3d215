import DLNN
import Foundation

extension TranslationRecipe {
    /// Checks every field; the message names it.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        guard ModelRepository.isValidName(name) else { throw fail("name: '\(name)' is not a valid model name") }
        guard !data.train.isEmpty else { throw fail("data.train is empty") }
        guard !data.dev.isEmpty else { throw fail("data.dev is empty") }
        if let dir = data.dir, dir.isEmpty { throw fail("data.dir is empty") }
        if let l = data.limit, l < 1 { throw fail("data.limit must be >= 1 (got \(l))") }
        guard data.devLimit >= 1 else { throw fail("data.dev_limit must be >= 1 (got \(data.devLimit))") }
        guard (2...4096).contains(data.maxLength) else { throw fail("data.max_length must be in 2...4096 (got \(data.maxLength))") }
        guard (0...100_000).contains(data.bleuSentences) else {
            throw fail("data.bleu_sentences must be in 0...100000 (got \(data.bleuSentences))")
        }
        guard (0...1_000_000).contains(subwords.merges) else { throw fail("subwords.merges must be in 0...1000000 (got \(subwords.merges))") }
        let o = optimizer
        guard o.lr.isFinite, o.lr > 0, o.lr <= 1 else { throw fail("optimizer.lr must be in (0, 1] (got \(o.lr))") }
        guard o.beta1.isFinite, (0..<1).contains(o.beta1) else { throw fail("optimizer.beta1 must be in [0, 1) (got \(o.beta1))") }
        guard o.beta2.isFinite, (0..<1).contains(o.beta2) else { throw fail("optimizer.beta2 must be in [0, 1) (got \(o.beta2))") }
        guard o.eps.isFinite, o.eps > 0 else { throw fail("optimizer.eps must be > 0 (got \(o.eps))") }
        guard o.warmupSteps >= 0 else { throw fail("optimizer.warmup_steps must be >= 0 (got \(o.warmupSteps))") }
        if let c = o.clipNorm, !(c.isFinite && c > 0) { throw fail("optimizer.clip_norm must be > 0 (got \(c))") }
        guard labelSmoothing.isFinite, (0..<1).contains(labelSmoothing) else {
            throw fail("label_smoothing must be in [0, 1) (got \(labelSmoothing))")
        }
        guard (8...10_000_000).contains(batchTokens) else { throw fail("batch_tokens must be in 8...10000000 (got \(batchTokens))") }
        guard (1...1000).contains(epochs) else { throw fail("epochs must be in 1...1000 (got \(epochs))") }
        try validateModel()
    }

    /// The model reads "src" and "tgt" (int64, [-1]) and has one output; it
    /// builds with small vocabularies in place of the placeholders.
    func validateModel() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe("model: \(m)") }
        let inputs = model.inputs.map(\.name)
        guard inputs == ["src", "tgt"] else { throw fail("inputs must be \"src\" then \"tgt\" (got \(inputs))") }
        for i in model.inputs where i.shape != [-1] {
            throw fail("input '\(i.name)' must have shape [-1] (got \(i.shape))")
        }
        guard model.outputs.count == 1 else { throw fail("needs exactly one output, the logits (got \(model.outputs))") }
        let probe = resolvedModel(sourceVocabulary: 8, targetVocabulary: 8)
        let built: GraphModel
        do { built = try GraphModel(spec: probe) } catch let e as ModelError { throw fail(e.description) }
        guard built.outputShape == [-1, 8] else {
            throw fail("output '\(model.output)' must be logits [-1, \"\(Self.targetVocabulary)\"] (got \(built.outputShape))")
        }
    }

    /// The model spec with "$source_vocab" and "$target_vocab" replaced by the sizes.
    public func resolvedModel(sourceVocabulary: Int, targetVocabulary: Int) -> ModelSpec {
        func resolve(_ v: JSONValue) -> JSONValue {
            switch v {
            case .string(Self.sourceVocabulary): return .number(Double(sourceVocabulary))
            case .string(Self.targetVocabulary): return .number(Double(targetVocabulary))
            case .array(let a): return .array(a.map(resolve))
            case .object(let o): return .object(o.mapValues(resolve))
            default: return v
            }
        }
        var spec = model
        for i in spec.layers.indices { spec.layers[i].attrs = spec.layers[i].attrs.mapValues(resolve) }
        return spec
    }
}
