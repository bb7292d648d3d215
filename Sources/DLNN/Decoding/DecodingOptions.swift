/// The controls of one decoding run. `validate()` checks what a client can
/// get wrong; the decoding functions call it and throw before any step.
public struct DecodingOptions: Sendable, Equatable {
    /// Token fed at the first step of every hypothesis (`<s>`).
    public var startToken: Int
    /// Token that ends a hypothesis (`<eos>`); it counts in the length Ty
    /// and its log-probability counts in the score.
    public var endToken: Int
    /// B: hypotheses kept alive per source. 1 means greedy decoding.
    public var beamWidth: Int
    /// alpha in the course's length normalisation, score = log P / Ty^alpha;
    /// 0 means none (plain log-probability), 1 the per-token average. The
    /// course suggests about 0.7.
    public var lengthPenalty: Double
    /// How many finished hypotheses to return per source, best first
    /// (1...beamWidth).
    public var nBest: Int
    /// Most tokens a hypothesis may have, `<eos>` included. A hypothesis that
    /// reaches it without `<eos>` is returned truncated (`ended == false`).
    public var maxLength: Int
    /// Fewest tokens, `<eos>` included: `<eos>` is not allowed earlier.
    public var minLength: Int

    public init(
        startToken: Int, endToken: Int, beamWidth: Int = 4, lengthPenalty: Double = 0,
        nBest: Int = 1, maxLength: Int = 128, minLength: Int = 0
    ) {
        self.startToken = startToken
        self.endToken = endToken
        self.beamWidth = beamWidth
        self.lengthPenalty = lengthPenalty
        self.nBest = nBest
        self.maxLength = maxLength
        self.minLength = minLength
    }

    /// Throws `DecodingOptionsError` for a value a client could send.
    public func validate(vocabularySize: Int) throws {
        func fail(_ message: String) -> DecodingOptionsError { DecodingOptionsError(message: message) }
        guard beamWidth >= 1 else { throw fail("beam_width must be at least 1, got \(beamWidth)") }
        guard nBest >= 1 else { throw fail("n_best must be at least 1, got \(nBest)") }
        guard nBest <= beamWidth else {
            throw fail("n_best (\(nBest)) must not exceed beam_width (\(beamWidth))")
        }
        guard maxLength >= 1 else { throw fail("max_length must be at least 1, got \(maxLength)") }
        guard minLength <= maxLength else {
            throw fail("min_length (\(minLength)) must not exceed max_length (\(maxLength))")
        }
        guard lengthPenalty.isFinite, lengthPenalty >= 0 else {
            throw fail("length_penalty must be a finite number >= 0, got \(lengthPenalty)")
        }
        for (name, token) in [("start", startToken), ("end", endToken)]
        where !(0..<vocabularySize).contains(token) {
            throw fail("\(name) token \(token) is outside the vocabulary of \(vocabularySize)")
        }
    }
}

/// Decoding options a client got wrong (the HTTP layer answers 400).
public struct DecodingOptionsError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
