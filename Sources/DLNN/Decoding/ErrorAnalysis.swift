import DLTensor

/// The course's error analysis of one source: whose fault is a bad
/// translation, the search's or the model's?
public struct ErrorAnalysis: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable {
        /// The model scores the reference y* above the beam's best y-hat:
        /// beam search missed a better sequence (try a wider beam).
        case searchError = "search_error"
        /// The beam's best scores at least as high as the reference: the
        /// model prefers a worse translation (the model is at fault).
        case modelError = "model_error"
    }

    /// The reference scored under teacher forcing, same normalisation.
    public var reference: Hypothesis
    /// The search's best hypothesis (nil when it found none).
    public var best: Hypothesis?
    public var verdict: Verdict

    /// Search error when `reference.score > best.score`; model error
    /// otherwise (a tie is the model's: the search found as good a sequence).
    public init(reference: Hypothesis, best: Hypothesis?) {
        self.reference = reference
        self.best = best
        if let best, !(reference.score > best.score) {
            verdict = .modelError
        } else {
            verdict = .searchError
        }
    }
}

/// Scores reference token sequences under teacher forcing, a batch at once:
/// log P(y*|x) as the sum of per-token log-probabilities, normalised with
/// `options.lengthPenalty` exactly as search results are. The end token is
/// appended to a reference that lacks it (search hypotheses count it too).
/// Max and min length do not apply: the reference is what it is.
public func scoreReferences<Model: IncrementalDecoder>(
    _ model: Model, sources: [Model.Source], references: [[Int]], options: DecodingOptions,
    checkpoint: () throws -> Void = {}
) throws -> [Hypothesis] {
    precondition(sources.count == references.count,
                 "scoreReferences: \(sources.count) sources but \(references.count) references")
    let v = model.vocabularySize
    let targets = references.map { $0.last == options.endToken ? $0 : $0 + [options.endToken] }
    for (i, t) in targets.enumerated() {
        if let bad = t.first(where: { !(0..<v).contains($0) }) {
            throw DecodingOptionsError(message: "reference \(i) has token \(bad) outside the vocabulary of \(v)")
        }
    }
    var logProbs = targets.map { _ in [Float]() }
    guard !sources.isEmpty else { return [] }
    var state = try model.start(sources)
    var rowOf = Array(0..<sources.count)  // row of each reference in `state`
    var position = 0
    while true {
        let active = targets.indices.filter { targets[$0].count > position }
        if active.isEmpty { break }
        try checkpoint()
        let keeping = active.map { rowOf[$0] }
        let fed = active.map { position == 0 ? options.startToken : targets[$0][position - 1] }
        let (out, next) = try model.step(state, keeping: keeping, lastTokens: fed)
        precondition(out.shape == [keeping.count, v],
                     "scoreReferences: step gave \(out.shape) for \(keeping.count) rows of \(v)")
        for (row, r) in active.enumerated() {
            logProbs[r].append(out.data[row * v + targets[r][position]])
            rowOf[r] = row
        }
        state = next
        position += 1
    }
    return zip(targets, logProbs).map { tokens, lps in
        let total = lps.reduce(0.0) { $0 + Double($1) }
        return Hypothesis(
            tokens: tokens, tokenLogProbabilities: lps, logProbability: total,
            score: lengthNormalized(logProbability: total, length: tokens.count, alpha: options.lengthPenalty),
            ended: true)
    }
}

/// Decodes the sources with `options` and scores their references, and
/// returns the verdict for each source, in order.
public func analyzeErrors<Model: IncrementalDecoder>(
    _ model: Model, sources: [Model.Source], references: [[Int]], options: DecodingOptions,
    checkpoint: () throws -> Void = {}
) throws -> [ErrorAnalysis] {
    let results = try decode(model, sources: sources, options: options, checkpoint: checkpoint)
    let scored = try scoreReferences(model, sources: sources, references: references, options: options,
                                     checkpoint: checkpoint)
    return zip(scored, results).map { ErrorAnalysis(reference: $0, best: $1.best) }
}
