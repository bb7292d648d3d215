/// Greedy decoding: at each step the most probable token (lowest id on a
/// tie), until `<eos>` or max length. Not the same as a beam of width 1 when
/// alpha > 0: greedy stops at the first `<eos>`, while `BeamSearch` keeps
/// looking for a longer hypothesis whose normalised score could beat it.
/// The serving layer's `beam_width: 1` means this.
public struct GreedySearch: TokenSearch {
    public let options: DecodingOptions
    public private(set) var parents: [Int] = [0]
    public private(set) var tokens: [Int]
    public private(set) var steps = 0
    private var hypothesis = PartialHypothesis()
    private var finished: Hypothesis?

    public init(options: DecodingOptions) {
        self.options = options
        self.tokens = [options.startToken]
    }

    public mutating func advance(_ logProbabilities: ArraySlice<Float>, vocabularySize v: Int) {
        precondition(parents.count == 1 && logProbabilities.count == v,
                     "GreedySearch.advance: expected 1 row of \(v), got \(logProbabilities.count) values")
        steps += 1
        let endAllowed = hypothesis.tokens.count + 1 >= options.minLength
        var best = -1
        var bestValue = -Float.infinity
        for (token, p) in zip(0..<v, logProbabilities) where p > bestValue {
            if token == options.endToken && !endAllowed { continue }
            best = token
            bestValue = p
        }
        guard best >= 0 else {  // every allowed token impossible
            parents = []
            tokens = []
            return
        }
        hypothesis = hypothesis.extended(by: best, logProbability: bestValue)
        let ended = best == options.endToken
        if ended || hypothesis.tokens.count >= options.maxLength {
            finished = hypothesis.completed(ended: ended, alpha: options.lengthPenalty)
            parents = []
            tokens = []
        } else {
            parents = [0]
            tokens = [best]
        }
    }

    public var result: DecodingResult {
        DecodingResult(hypotheses: finished.map { [$0] } ?? [], steps: steps)
    }
}
