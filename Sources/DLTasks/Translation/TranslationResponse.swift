import DLNN
import DLServing
import Foundation

extension Translation {
    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        /// One result per text, in order.
        public var results: [Result]

        public init(model: String, version: Int, results: [Result]) {
            (self.model, self.version, self.results) = (model, version, results)
        }
    }

    public struct Result: Codable, Sendable, Equatable {
        /// The best hypothesis, detokenized.
        public var translation: String
        /// log P / Ty^alpha, what ranks hypotheses (Ty counts `<eos>`).
        public var score: Double
        public var logProbability: Double
        /// Subwords of the translation, `<eos>` not counted.
        public var tokens: Int
        /// True when cut at `max_length` before `<eos>`.
        public var truncated: Bool
        /// All n-best hypotheses, best first (only when `n_best` > 1).
        public var nBest: [Alternative]?
        public var attention: Attention?
        public var errorAnalysis: ErrorReport?

        public init(translation: String, score: Double, logProbability: Double, tokens: Int, truncated: Bool,
                    nBest: [Alternative]? = nil, attention: Attention? = nil, errorAnalysis: ErrorReport? = nil) {
            self.translation = translation
            self.score = score
            self.logProbability = logProbability
            self.tokens = tokens
            self.truncated = truncated
            self.nBest = nBest
            self.attention = attention
            self.errorAnalysis = errorAnalysis
        }

        enum CodingKeys: String, CodingKey {
            case translation, score, tokens, truncated, attention
            case logProbability = "log_probability"
            case nBest = "n_best"
            case errorAnalysis = "error_analysis"
        }
    }

    public struct Alternative: Codable, Sendable, Equatable {
        public var translation: String
        public var score: Double
        public var logProbability: Double
        public var tokens: Int

        enum CodingKeys: String, CodingKey {
            case translation, score, tokens
            case logProbability = "log_probability"
        }
    }

    /// Cross-attention of the best hypothesis: `weights[t][s]` is how much
    /// target token t attended to source token s (last decoder layer, heads
    /// averaged; each row sums to 1). Tokens are subwords ('▁' starts a word).
    public struct Attention: Codable, Sendable, Equatable {
        public var sourceTokens: [String]
        public var targetTokens: [String]
        public var weights: [[Float]]

        public init(sourceTokens: [String], targetTokens: [String], weights: [[Float]]) {
            (self.sourceTokens, self.targetTokens, self.weights) = (sourceTokens, targetTokens, weights)
        }

        enum CodingKeys: String, CodingKey {
            case weights
            case sourceTokens = "source_tokens"
            case targetTokens = "target_tokens"
        }
    }

    /// The course's error analysis: the model's score of the reference y*
    /// against the best beam's y-hat, same length normalisation. A higher
    /// reference score is a search error (a wider beam may help); otherwise
    /// the model is at fault.
    public struct ErrorReport: Codable, Sendable, Equatable {
        public var referenceScore: Double
        public var referenceLogProbability: Double
        /// Subwords of the reference with `<eos>`.
        public var referenceTokens: Int
        public var bestScore: Double
        public var bestLogProbability: Double
        /// "search_error" or "model_error".
        public var verdict: String

        enum CodingKeys: String, CodingKey {
            case verdict
            case referenceScore = "reference_score"
            case referenceLogProbability = "reference_log_probability"
            case referenceTokens = "reference_tokens"
            case bestScore = "best_score"
            case bestLogProbability = "best_log_probability"
        }
    }
}

extension Translation.Response: AlternativeRepresentable {
    public static let alternativeFormats = ["svg": "image/svg+xml"]

    /// The alignment of the one text as an SVG heat map.
    public func rendered(as format: String) throws -> [UInt8] {
        guard format == "svg", results.count == 1, let attention = results[0].attention else {
            throw ServingError.badRequest("an SVG answer needs exactly one translated text with its attention")
        }
        return Array(AttentionSVG.render(attention, title: results[0].translation).utf8)
    }
}
