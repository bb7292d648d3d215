import DLNN
import DLText
import Foundation

/// A translation model scored on parallel text: its translations of the
/// sources (beam search or greedy, see `TranslationEvaluation.translate`)
/// against the references, by corpus BLEU and chrF (sacrebleu's 13a
/// tokenization, mixed case).
public struct TranslationScore: Sendable, Codable, Equatable {
    public var count: Int
    public var bleu: Double
    public var chrf: Double
    public var beamWidth: Int
    public var lengthPenalty: Double
    public var seconds: Double
    public var sentencesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case count, bleu, chrf, seconds
        case beamWidth = "beam_width", lengthPenalty = "length_penalty", sentencesPerSecond = "sentences_per_second"
    }

    /// Translates `pairs`' sources with `model` and `subwords` and scores
    /// them; also returns the translations, in order.
    public static func measure(_ model: GraphModel, subwords: TranslationSubwords,
                               pairs: [(source: String, target: String)], beamWidth: Int = 4,
                               lengthPenalty: Double = 0.7, batchSize: Int = 32) throws -> (score: TranslationScore, translations: [String]) {
        guard !pairs.isEmpty else { throw TrainingError.dataset("no sentence pairs to score") }
        let start = Date()
        var options = TranslationEvaluation.greedyOptions()
        options.beamWidth = beamWidth
        options.lengthPenalty = lengthPenalty
        let ids = try TranslationEvaluation.translate(model, sources: pairs.map { subwords.encodeSource($0.source) },
                                                      options: options, batchSize: batchSize)
        let translations = ids.map(subwords.decodeTarget)
        let references = pairs.map(\.target)
        let bleu = try BLEU.corpus(hypotheses: translations, references: references).score
        let chrf = try ChrF.corpus(hypotheses: translations, references: references).score
        let seconds = Date().timeIntervalSince(start)
        return (TranslationScore(count: pairs.count, bleu: bleu, chrf: chrf, beamWidth: beamWidth, lengthPenalty: lengthPenalty,
                                 seconds: seconds, sentencesPerSecond: Double(pairs.count) / max(seconds, 1e-9)), translations)
    }
}
