import DLTensor

/// Decodes a batch of sources with the search `options` ask for: greedy when
/// `beamWidth == 1`, beam search otherwise. Results are in source order and
/// equal to decoding each source alone.
///
/// `checkpoint` runs before every decoder step; whatever it throws (a
/// cancelled request, a passed deadline: `DecodingInterrupted`, or
/// `CancellationError` from `Task.checkCancellation`) stops decoding and is
/// rethrown. Throws `DecodingOptionsError` for invalid options, before any
/// model call.
public func decode<Model: IncrementalDecoder>(
    _ model: Model, sources: [Model.Source], options: DecodingOptions,
    checkpoint: () throws -> Void = {}
) throws -> [DecodingResult] {
    options.beamWidth == 1
        ? try greedyDecode(model, sources: sources, options: options, checkpoint: checkpoint)
        : try beamSearchDecode(model, sources: sources, options: options, checkpoint: checkpoint)
}

/// Greedy decoding of a batch of sources (`beamWidth` and `nBest` ignored).
public func greedyDecode<Model: IncrementalDecoder>(
    _ model: Model, sources: [Model.Source], options: DecodingOptions,
    checkpoint: () throws -> Void = {}
) throws -> [DecodingResult] {
    var relaxed = options
    relaxed.beamWidth = max(1, options.beamWidth)
    relaxed.nBest = 1
    try relaxed.validate(vocabularySize: model.vocabularySize)
    var searches = sources.map { _ in GreedySearch(options: options) }
    try runSearches(model, sources: sources, searches: &searches, checkpoint: checkpoint)
    return searches.map(\.result)
}

/// Beam search over a batch of sources (see `BeamSearch`).
public func beamSearchDecode<Model: IncrementalDecoder>(
    _ model: Model, sources: [Model.Source], options: DecodingOptions,
    checkpoint: () throws -> Void = {}
) throws -> [DecodingResult] {
    try options.validate(vocabularySize: model.vocabularySize)
    var searches = sources.map { _ in BeamSearch(options: options) }
    try runSearches(model, sources: sources, searches: &searches, checkpoint: checkpoint)
    return searches.map(\.result)
}

/// Thrown by a decoding `checkpoint` closure to stop a decode.
public enum DecodingInterrupted: Error, Equatable {
    /// The client went away.
    case cancelled
    /// The request's deadline passed.
    case deadlineExceeded
}

/// Runs `searches` (one per source) to the end over one batched state: each
/// step lays the unfinished searches' rows end to end (`keeping` offsets each
/// search's local parents by where its previous rows began), steps the model
/// once, and hands each search its slice of the log-probability rows.
/// Finished searches' rows are simply not kept.
public func runSearches<Model: IncrementalDecoder, Search: TokenSearch>(
    _ model: Model, sources: [Model.Source], searches: inout [Search],
    checkpoint: () throws -> Void = {}
) throws {
    precondition(sources.count == searches.count,
                 "runSearches: \(sources.count) sources but \(searches.count) searches")
    guard !sources.isEmpty else { return }
    var state = try model.start(sources)
    precondition(state.rowCount == sources.count,
                 "runSearches: start gave \(state.rowCount) rows for \(sources.count) sources")
    // Where each search's rows begin in `state`, and how many it has there.
    var firstRow = Array(0..<sources.count)
    let v = model.vocabularySize
    while true {
        let active = searches.indices.filter { !searches[$0].isFinished }
        if active.isEmpty { return }
        try checkpoint()
        var keeping: [Int] = []
        var lastTokens: [Int] = []
        var nextFirstRow = firstRow
        for s in active {
            nextFirstRow[s] = keeping.count
            keeping += searches[s].parents.map { firstRow[s] + $0 }
            lastTokens += searches[s].tokens
        }
        let (logProbabilities, next) = try model.step(state, keeping: keeping, lastTokens: lastTokens)
        precondition(logProbabilities.shape == [keeping.count, v],
                     "runSearches: step gave log-probabilities \(logProbabilities.shape) for \(keeping.count) rows of \(v)")
        precondition(next.rowCount == keeping.count,
                     "runSearches: step gave a state of \(next.rowCount) rows for \(keeping.count)")
        let values = logProbabilities.data
        for s in active {
            let rows = searches[s].parents.count
            let start = nextFirstRow[s] * v
            searches[s].advance(values[start..<(start + rows * v)], vocabularySize: v)
        }
        state = next
        firstRow = nextFirstRow
    }
}
