/// One way to grow a live hypothesis: its row, the token, the token's
/// log-probability and the grown hypothesis's log-probability.
struct BeamCandidate {
    var row: Int
    var token: Int
    var logProbability: Float
    var total: Double
}

/// The candidates a beam step can need, best first: per live row its top
/// `width` tokens other than the end token (no row can give the beam more),
/// plus the end token when allowed. Impossible tokens (-infinity, NaN) are
/// never candidates. Ties go to the lower row, then the lower token, so the
/// order is the same whatever batch the rows came from.
func rankedCandidates(
    _ logProbabilities: ArraySlice<Float>, vocabularySize v: Int, live: [PartialHypothesis],
    width: Int, endToken: Int, endAllowed: Bool
) -> [BeamCandidate] {
    var candidates: [BeamCandidate] = []
    candidates.reserveCapacity(live.count * (width + 1))
    let base = logProbabilities.startIndex
    for (row, hypothesis) in live.enumerated() {
        let rowStart = base + row * v
        let top = topTokens(logProbabilities[rowStart..<(rowStart + v)], count: width, excluding: endToken)
        for (token, p) in top {
            candidates.append(BeamCandidate(row: row, token: token, logProbability: p,
                                            total: hypothesis.logProbability + Double(p)))
        }
        let pEnd = logProbabilities[rowStart + endToken]
        if endAllowed && pEnd > -Float.infinity {
            candidates.append(BeamCandidate(row: row, token: endToken, logProbability: pEnd,
                                            total: hypothesis.logProbability + Double(pEnd)))
        }
    }
    candidates.sort { a, b in
        if a.total != b.total { return a.total > b.total }
        if a.row != b.row { return a.row < b.row }
        return a.token < b.token
    }
    return candidates
}

/// The `count` most probable tokens of one row, best first (lower token on a
/// tie), skipping `excluding` and impossible tokens. A partial insertion
/// sort: O(V * count), and count is the beam width.
func topTokens(_ row: ArraySlice<Float>, count: Int, excluding: Int) -> [(token: Int, p: Float)] {
    var top: [(token: Int, p: Float)] = []
    top.reserveCapacity(count + 1)
    var token = 0
    for p in row {
        defer { token += 1 }
        guard token != excluding, p > -Float.infinity else { continue }
        if top.count == count, p <= top[count - 1].p { continue }
        var at = top.count
        while at > 0 && p > top[at - 1].p { at -= 1 }
        top.insert((token, p), at: at)
        if top.count > count { top.removeLast() }
    }
    return top
}
