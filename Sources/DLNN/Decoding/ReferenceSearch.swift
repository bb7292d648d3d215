/// Teacher forcing as a `TokenSearch`: feeds a reference translation one
/// token at a time and records the log-probability the model gives each of
/// its tokens, so that a serving scheduler can score references (the error
/// analysis) in the same batched steps as the searches. Its result is the
/// reference as one hypothesis, scored exactly as `scoreReferences` scores
/// it: the end token appended when missing, log P / Ty^alpha.
public struct ReferenceSearch: TokenSearch {
    public let options: DecodingOptions
    /// The reference, ending with the end token.
    public let target: [Int]
    public private(set) var parents: [Int] = [0]
    public private(set) var tokens: [Int]
    public private(set) var steps = 0
    private var logProbabilities: [Float] = []

    /// Throws `DecodingOptionsError` for a token outside the vocabulary.
    public init(reference: [Int], options: DecodingOptions, vocabularySize: Int) throws {
        let target = reference.last == options.endToken ? reference : reference + [options.endToken]
        if let bad = target.first(where: { !(0..<vocabularySize).contains($0) }) {
            throw DecodingOptionsError(message: "the reference has token \(bad) outside the vocabulary of \(vocabularySize)")
        }
        self.options = options
        self.target = target
        self.tokens = [options.startToken]
    }

    public mutating func advance(_ logProbabilities: ArraySlice<Float>, vocabularySize v: Int) {
        precondition(logProbabilities.count == v, "ReferenceSearch.advance: expected 1 row of \(v), got \(logProbabilities.count) values")
        let token = target[steps]
        self.logProbabilities.append(logProbabilities[logProbabilities.startIndex + token])
        steps += 1
        if steps == target.count {
            parents = []
            tokens = []
        } else {
            tokens = [token]
        }
    }

    public var result: DecodingResult {
        guard steps == target.count else { return DecodingResult(hypotheses: [], steps: steps) }
        let total = logProbabilities.reduce(0.0) { $0 + Double($1) }
        let h = Hypothesis(tokens: target, tokenLogProbabilities: logProbabilities, logProbability: total,
                           score: lengthNormalized(logProbability: total, length: target.count, alpha: options.lengthPenalty),
                           ended: true)
        return DecodingResult(hypotheses: [h], steps: steps)
    }
}
