import DLNN
import DLServing
import DLText
import Foundation

/// English to Spanish (or any pair a model was trained on):
/// `POST /v1/models/{name}/translate` with `{"text": "..."}` or
/// `{"texts": [...]}` (at most `maxTexts`) and the decoding options
/// (`beam_width`, `length_penalty`, `n_best`, `max_length`, `reference`,
/// `return_attention`). Each text is encoded with the version's subwords and
/// decoded step by step with the key/value cache; the beams of every text of
/// every concurrent request to the version advance together, one model step
/// for all (`DecodingScheduler`). A reference is scored in the same steps
/// (teacher forcing) for the course's error analysis; the attention of the
/// best hypothesis is one extra teacher-forced pass.
public struct Translation: ServingTask {
    public static let route = "translate"
    public static let modelTask = "translation"
    public static let maxTexts = 16
    public static let maxBeamWidth = 16
    public static let defaultBeamWidth = 4
    /// alpha = 0.7, the value the course suggests for log P / Ty^alpha
    /// (GNMT's 0.6 is for its own (5 + Ty) / 6 penalty, milder at these lengths).
    public static let defaultLengthPenalty = 0.7
    public static let maxLengthPenalty = 2.0
    /// Most target subwords a request may ask for (and the cap of the default).
    public static let maxTargetLength = 256

    public init() {}

    /// Default `max_length` for a source of `n` subwords (with `<eos>`): 2n + 10, capped.
    public static func defaultMaxLength(sourceLength n: Int) -> Int { min(2 * n + 10, maxTargetLength) }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let started = ContinuousClock.now
        guard !request.texts.isEmpty else { throw ServingError.invalidInput("'texts' is empty") }
        guard request.texts.count <= Self.maxTexts else {
            throw ServingError.invalidInput("at most \(Self.maxTexts) texts per request, got \(request.texts.count)")
        }
        let engine = try TranslationEngine.of(model)
        func field(_ name: String, _ i: Int) -> String { request.isList ? "\(name)[\(i)]" : name }
        let sources = try request.texts.enumerated().map { i, t in
            try engine.encodeSource(t, field: request.isList ? "texts[\(i)]" : "text")
        }
        let references = try request.references?.enumerated().map { i, r in
            try engine.encodeReference(r, field: field("reference", i))
        }
        let options = try sources.map { try decodingOptions(request, sourceLength: $0.count, engine: engine) }

        var searches: [any TokenSearch] = options.map { o -> any TokenSearch in
            o.beamWidth == 1 ? GreedySearch(options: o) as any TokenSearch : BeamSearch(options: o)
        }
        var searchSources = sources
        for (i, reference) in (references ?? []).enumerated() {
            searches.append(try ReferenceSearch(reference: reference, options: options[i],
                                                vocabularySize: engine.decoder.vocabularySize))
            searchSources.append(sources[i])
        }
        let decoded = try await engine.scheduler.decode(sources: searchSources, searches: searches, deadline: model.deadline)

        var results: [Result] = []
        for (i, source) in sources.enumerated() {
            guard let best = decoded[i].best else {
                throw ServingError.internal("model '\(model.name)' found no translation for text \(i)")
            }
            var result = Result(
                translation: engine.subwords.decodeTarget(best.tokens), score: Self.finite(best.score),
                logProbability: Self.finite(best.logProbability), tokens: best.content.count, truncated: !best.ended)
            if request.nBest > 1 {
                result.nBest = decoded[i].hypotheses.map { h in
                    Alternative(translation: engine.subwords.decodeTarget(h.tokens), score: Self.finite(h.score),
                                logProbability: Self.finite(h.logProbability), tokens: h.content.count)
                }
            }
            if request.returnAttention {
                let weights = try await engine.attention(source: source, target: best.tokens, deadline: model.deadline,
                                                         model: model.name, started: started)
                result.attention = Attention(sourceTokens: engine.sourceTokens(source),
                                             targetTokens: engine.targetTokens(best.tokens), weights: weights)
            }
            if references != nil, let reference = decoded[sources.count + i].best {
                let analysis = ErrorAnalysis(reference: reference, best: best)
                result.errorAnalysis = ErrorReport(
                    referenceScore: Self.finite(reference.score), referenceLogProbability: Self.finite(reference.logProbability),
                    referenceTokens: reference.tokens.count, bestScore: Self.finite(best.score),
                    bestLogProbability: Self.finite(best.logProbability), verdict: analysis.verdict.rawValue)
            }
            results.append(result)
        }
        return Response(model: model.name, version: model.version, results: results)
    }

    /// The request's options for one source, checked (invalidInput).
    func decodingOptions(_ request: Request, sourceLength: Int, engine: TranslationEngine) throws -> DecodingOptions {
        let options = DecodingOptions(
            startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: request.beamWidth,
            lengthPenalty: request.lengthPenalty, nBest: request.nBest,
            maxLength: request.maxLength ?? Self.defaultMaxLength(sourceLength: sourceLength))
        do {
            try options.validate(vocabularySize: engine.decoder.vocabularySize)
        } catch let e as DecodingOptionsError {
            throw ServingError.invalidInput(e.message)
        }
        return options
    }

    /// JSON has no infinities: an impossible score reads as the lowest double.
    static func finite(_ x: Double) -> Double { x.isFinite ? x : -Double.greatestFiniteMagnitude }
}
