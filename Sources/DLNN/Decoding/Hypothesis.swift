import Foundation

/// The course's length normalisation: log P(y|x) / Ty^alpha. With alpha = 0
/// the score is the log-probability; with alpha = 1 the per-token average.
public func lengthNormalized(logProbability: Double, length: Int, alpha: Double) -> Double {
    alpha == 0 || length == 0 ? logProbability : logProbability / pow(Double(length), alpha)
}

/// One complete output sequence of a search (or a scored reference).
public struct Hypothesis: Sendable, Equatable {
    /// The generated tokens, the end token included when `ended`.
    public var tokens: [Int]
    /// log P(token | source, prefix) of each token, same count as `tokens`.
    public var tokenLogProbabilities: [Float]
    /// Sum of `tokenLogProbabilities` (in Double, in token order).
    public var logProbability: Double
    /// `logProbability / Ty^alpha`, Ty = `tokens.count`: what ranks hypotheses.
    public var score: Double
    /// True when the last token is the end token; false when cut at max length.
    public var ended: Bool

    public init(tokens: [Int], tokenLogProbabilities: [Float], logProbability: Double, score: Double, ended: Bool) {
        self.tokens = tokens
        self.tokenLogProbabilities = tokenLogProbabilities
        self.logProbability = logProbability
        self.score = score
        self.ended = ended
    }

    /// The tokens without the end token: what a detokenizer should see.
    public var content: ArraySlice<Int> { ended ? tokens.dropLast() : tokens[...] }
}

/// The outcome of decoding one source.
public struct DecodingResult: Sendable, Equatable {
    /// At most `nBest` hypotheses, best score first (empty only when the
    /// model gave every token -infinity at the first step).
    public var hypotheses: [Hypothesis]
    /// Decoder steps this source took part in.
    public var steps: Int

    public init(hypotheses: [Hypothesis], steps: Int) {
        self.hypotheses = hypotheses
        self.steps = steps
    }

    public var best: Hypothesis? { hypotheses.first }
}

/// A hypothesis still growing, scored by its raw log-probability (all live
/// hypotheses of one search have the same length, so normalisation would not
/// change their order).
struct PartialHypothesis: Sendable {
    var tokens: [Int] = []
    var tokenLogProbabilities: [Float] = []
    var logProbability: Double = 0

    func extended(by token: Int, logProbability p: Float) -> PartialHypothesis {
        var next = self
        next.tokens.append(token)
        next.tokenLogProbabilities.append(p)
        next.logProbability += Double(p)
        return next
    }

    func completed(ended: Bool, alpha: Double) -> Hypothesis {
        Hypothesis(
            tokens: tokens, tokenLogProbabilities: tokenLogProbabilities, logProbability: logProbability,
            score: lengthNormalized(logProbability: logProbability, length: tokens.count, alpha: alpha),
            ended: ended)
    }
}
