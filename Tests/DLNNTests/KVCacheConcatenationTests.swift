import DLNN
import DLTensor
import XCTest

/// Rows of a request that started later joining a batch already decoding
/// (`KVCacheState.concatenating`), and the cross-attention a step can report.
final class KVCacheConcatenationTests: XCTestCase {
    let sources = [[3, 4], [5, 6, 7, 8, 9], [10, 3, 4]]

    /// Decodes `first` alone for `joinAfter` steps, then starts `second`,
    /// concatenates the two states and steps both together (compacting the
    /// state after every step), as a serving scheduler does.
    func joinedDecode(_ model: EncoderDecoderStepper, first: [Int], second: [Int], joinAfter k: Int,
                      options: DecodingOptions) throws -> [DecodingResult] {
        var searches = [BeamSearch(options: options), BeamSearch(options: options)]
        var state = try model.start([first])
        var firstRow = [0, 0], joined = [true, false], step = 0
        while !joined[1] || searches.contains(where: { !$0.isFinished }) {
            if !joined[1] && step == k {
                firstRow[1] = state.rowCount
                state = KVCacheState.concatenating([state, try model.start([second])])
                joined[1] = true
            }
            var keeping: [Int] = [], tokens: [Int] = [], next = firstRow
            for s in 0..<2 where joined[s] && !searches[s].isFinished {
                next[s] = keeping.count
                keeping += searches[s].parents.map { firstRow[s] + $0 }
                tokens += searches[s].tokens
            }
            let (lp, stepped) = try model.step(state, keeping: keeping, lastTokens: tokens)
            let v = model.vocabularySize
            for s in 0..<2 where joined[s] && !searches[s].isFinished {
                let rows = searches[s].parents.count, start = next[s] * v
                searches[s].advance(lp.data[start..<(start + rows * v)], vocabularySize: v)
            }
            state = KVCacheState.concatenating([stepped])
            firstRow = next
            step += 1
        }
        return searches.map(\.result)
    }

    /// A request joining after 0, 2 or 4 steps of another decodes exactly as
    /// alone (same hypotheses, scores equal up to float rounding), sources of
    /// different lengths both ways round, post- and pre-norm.
    func testJoinedBatchEqualsDecodingAlone() throws {
        for normFirst in [false, true] {
            let model = try EncoderDecoderStepper(model: try Seq2Seq.model(normFirst: normFirst, seed: 9))
            let options = DecodingOptions(startToken: Seq2Seq.bos, endToken: Seq2Seq.eos, beamWidth: 3,
                                          lengthPenalty: 0.7, nBest: 2, maxLength: 8)
            let alone = try sources.map { try decode(model, sources: [$0], options: options)[0] }
            for (a, b) in [(0, 1), (1, 0), (2, 1)] {
                for k in [0, 2, 4] {
                    let got = try joinedDecode(model, first: sources[a], second: sources[b], joinAfter: k, options: options)
                    for (g, w) in zip(got, [alone[a], alone[b]]) {
                        XCTAssertEqual(g.hypotheses.map(\.tokens), w.hypotheses.map(\.tokens), "sources \(a)+\(b), join after \(k)")
                        for (x, y) in zip(g.hypotheses, w.hypotheses) { XCTAssertEqual(x.score, y.score, accuracy: 1e-5) }
                    }
                }
            }
        }
    }

    /// Concatenation keeps only the sources rows use, pads shorter sources,
    /// and keeps each row's own length.
    func testConcatenationCompactsAndKeepsRowLengths() throws {
        let model = try EncoderDecoderStepper(model: try Seq2Seq.model(normFirst: false))
        var a = try model.start([sources[0], sources[1]])
        a = try model.step(a, keeping: [1, 1], lastTokens: [Seq2Seq.bos, Seq2Seq.bos]).state  // only source 1 left
        let b = try model.start([sources[2]])
        let joined = KVCacheState.concatenating([a, b])
        XCTAssertEqual(joined.rowCount, 3)
        XCTAssertEqual(joined.rowLengths, [1, 1, 0])
        XCTAssertEqual(joined.length, 1)
        let compacted = KVCacheState.concatenating([joined.selecting(rows: [2])])
        XCTAssertEqual(compacted.rowLengths, [0])
        XCTAssertEqual(compacted.length, 0)
    }

    /// `stepWithAttention` gives `step`'s log-probabilities exactly, and
    /// attention rows that sum to 1 over each row's own source (0 on padding).
    func testStepWithAttentionMatchesStep() throws {
        let model = try EncoderDecoderStepper(model: try Seq2Seq.model(normFirst: true, seed: 9))
        var state = try model.start(sources)
        for p in 0..<3 {
            let tokens = p == 0 ? [1, 1, 1] : [4, 5, 6]
            let plain = try model.step(state, keeping: [0, 1, 2], lastTokens: tokens)
            let with = try model.stepWithAttention(state, keeping: [0, 1, 2], lastTokens: tokens)
            XCTAssertEqual(plain.logProbabilities.data, with.logProbabilities.data)
            let s = 5
            XCTAssertEqual(with.crossAttention.shape, [3, s])
            for (i, source) in sources.enumerated() {
                let row = with.crossAttention.data[(i * s)..<((i + 1) * s)]
                XCTAssertEqual(row.prefix(source.count).reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertTrue(row.dropFirst(source.count).allSatisfy { $0 == 0 })
            }
            state = with.state
        }
        let alignment = try model.crossAttention(source: sources[1], target: [4, 5, Seq2Seq.eos], startToken: Seq2Seq.bos)
        XCTAssertEqual(alignment.count, 3)
        for row in alignment {
            XCTAssertEqual(row.count, 5)
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
        }
    }
}
