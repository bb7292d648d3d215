/// Beam search with beam width B over one source (the course's sequence
/// models week), as a value that a driver feeds with log-probabilities.
///
/// Each step expands every live hypothesis by every token and ranks the
/// candidates by log-probability (live hypotheses all have the same length,
/// so length normalisation would not change that order). Walking the ranking
/// best first: an `<eos>` candidate ranked within the top B is finished; the
/// other candidates fill the beam until it holds B live hypotheses again
/// (fairseq's and OpenNMT's rule: the beam stays B wide after some
/// hypotheses end). Finished hypotheses are ranked by the normalised score
/// log P / Ty^alpha, and the best `nBest` are kept.
///
/// ## When it stops
/// - Max length: live hypotheses that reach it are finished, truncated.
/// - Every live hypothesis has ended: no live candidate is left.
/// - No live hypothesis can still win (the exact rule, not a heuristic):
///   log-probabilities are <= 0, so a live hypothesis with log-probability s
///   after t tokens can only end with s' <= s and a length Ty in
///   t+1...maxLength; its best possible score is max over Ty of s / Ty^alpha,
///   which for s <= 0 and alpha >= 0 is s / maxLength^alpha (s itself when
///   alpha = 0). Once the nBest-th finished score is at least the best such
///   bound, nothing live can enter the n-best list, and the search stops.
///   The result is then exactly what running to max length would give. (The
///   cheaper rules, stopping at B finished or comparing against s / t^alpha,
///   can stop while a live hypothesis would still win when alpha > 0.)
public struct BeamSearch: TokenSearch {
    public let options: DecodingOptions
    public private(set) var parents: [Int] = [0]
    public private(set) var tokens: [Int]
    public private(set) var steps = 0
    private var live: [PartialHypothesis] = [PartialHypothesis()]
    /// Best first, at most nBest.
    private var finished: [Hypothesis] = []

    public init(options: DecodingOptions) {
        self.options = options
        self.tokens = [options.startToken]
    }

    public var result: DecodingResult { DecodingResult(hypotheses: finished, steps: steps) }

    public mutating func advance(_ logProbabilities: ArraySlice<Float>, vocabularySize v: Int) {
        precondition(logProbabilities.count == live.count * v,
                     "BeamSearch.advance: expected \(live.count) rows of \(v), got \(logProbabilities.count) values")
        steps += 1
        let width = options.beamWidth
        let endAllowed = live[0].tokens.count + 1 >= options.minLength
        let candidates = rankedCandidates(
            logProbabilities, vocabularySize: v, live: live, width: width,
            endToken: options.endToken, endAllowed: endAllowed)

        var nextLive: [PartialHypothesis] = []
        var nextParents: [Int] = []
        for (rank, c) in candidates.enumerated() {
            if nextLive.count == width { break }
            let grown = live[c.row].extended(by: c.token, logProbability: c.logProbability)
            if c.token == options.endToken {
                if rank < width { insertFinished(grown.completed(ended: true, alpha: options.lengthPenalty)) }
            } else {
                nextLive.append(grown)
                nextParents.append(c.row)
            }
        }
        if let length = nextLive.first?.tokens.count, length >= options.maxLength {
            for h in nextLive { insertFinished(h.completed(ended: false, alpha: options.lengthPenalty)) }
            nextLive = []
        }
        if !nextLive.isEmpty && finished.count >= options.nBest {
            let bestBound = nextLive.map { optimisticScore($0.logProbability) }.max()!
            if finished[options.nBest - 1].score >= bestBound { nextLive = [] }
        }
        if nextLive.isEmpty { nextParents = [] }
        live = nextLive
        parents = nextParents
        tokens = nextLive.map { $0.tokens.last! }
    }

    /// The best score a live hypothesis with log-probability `s` could still
    /// reach: s / Ty^alpha for the most favourable Ty <= maxLength.
    func optimisticScore(_ s: Double) -> Double {
        lengthNormalized(logProbability: s, length: options.maxLength, alpha: options.lengthPenalty)
    }

    /// Keeps the best nBest by score; on equal scores the earlier one stays
    /// first (it was found at an earlier step or ranked higher).
    private mutating func insertFinished(_ h: Hypothesis) {
        let at = finished.firstIndex { h.score > $0.score } ?? finished.endIndex
        guard at < options.nBest else { return }
        finished.insert(h, at: at)
        if finished.count > options.nBest { finished.removeLast() }
    }
}
