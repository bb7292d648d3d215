import DLNN
import DLServing
import DLText
import Foundation

/// What one loaded translation version needs to answer: its subwords, its
/// step decoder and the scheduler that steps concurrent requests together.
/// Made once per loaded version (`ModelRunner.versionState`), never per request.
final class TranslationEngine: Sendable {
    let subwords: TranslationSubwords
    let decoder: GraphDecoder
    let scheduler: DecodingScheduler<GraphDecoder>
    /// Longest source, in subwords with `<eos>` (config `input.text.max_length`).
    let maxSourceLength: Int

    init(subwords: TranslationSubwords, decoder: GraphDecoder, limits: DecodingScheduler<GraphDecoder>.Limits,
         maxSourceLength: Int) {
        self.subwords = subwords
        self.decoder = decoder
        self.scheduler = DecodingScheduler(model: decoder, limits: limits)
        self.maxSourceLength = maxSourceLength
    }

    /// The engine of the runner's version, made on first use.
    static func of(_ model: ModelRunner) throws -> TranslationEngine {
        try model.versionState("translate.engine") {
            guard let subwords = model.resources.subwords, let decoder = model.resources.decoder else {
                throw ServingError.internal("model '\(model.name)' version \(model.version) has no subwords or step decoder")
            }
            return TranslationEngine(subwords: subwords, decoder: decoder,
                                     limits: .init(model.config, model: model.name),
                                     maxSourceLength: model.resources.maxLength ?? 256)
        }
    }

    /// Source ids of a text (subwords then `<eos>`); invalidInput naming
    /// `field` for a text without subwords or longer than the model takes.
    func encodeSource(_ text: String, field: String) throws -> [Int] {
        let ids = subwords.encodeSource(text)
        guard ids.count > 1 else { throw ServingError.invalidInput("\(field) is empty") }
        guard ids.count <= maxSourceLength else {
            throw ServingError.invalidInput(
                "\(field) has \(ids.count) subword tokens (with <eos>), more than the model's max_length of \(maxSourceLength)")
        }
        return ids
    }

    /// Target ids of a reference (subwords then `<eos>`).
    func encodeReference(_ text: String, field: String) throws -> [Int] {
        let ids = subwords.target.encode(text, addEnd: true)
        guard ids.count > 1 else { throw ServingError.invalidInput("\(field) is empty") }
        guard ids.count <= Translation.maxTargetLength else {
            throw ServingError.invalidInput("\(field) has \(ids.count) subword tokens, more than \(Translation.maxTargetLength)")
        }
        return ids
    }

    func sourceTokens(_ ids: [Int]) -> [String] { ids.map { subwords.source.model.vocabulary.words[$0] } }
    func targetTokens(_ ids: [Int]) -> [String] { ids.map { subwords.target.model.vocabulary.words[$0] } }

    /// The alignment of `target` (a best hypothesis) to `source`, computed
    /// off the async executor; stops with `timeout` past `deadline`.
    func attention(source: [Int], target: [Int], deadline: ContinuousClock.Instant, model: String,
                   started: ContinuousClock.Instant) async throws -> [[Float]] {
        let decoder = decoder
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result(catching: {
                    try decoder.crossAttention(source: source, target: target, startToken: BPEModel.beginningID) {
                        let now = ContinuousClock.now
                        if now >= deadline { throw ServingError.timeout(model: model, after: now - started) }
                    }
                }))
            }
        }
    }
}
