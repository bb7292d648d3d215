import DLNN
import DLTensor
import XCTest

/// The carried-state decoder of an RNN encoder-decoder model.json with
/// additive attention against the full teacher-forced graph and a decoder
/// that recomputes the prefix; `GraphDecoder` picks the stepper by family.
final class RecurrentStepperTests: XCTestCase {
    let sources = [[3, 4], [5, 6, 7, 8, 9], [10, 3, 4]]
    let targets = [[1, 3, 4, 9, 2, 5], [1, 7, 7, 3, 6, 10], [1, 10, 2, 2, 8, 3]]
    let cells = ["gru", "lstm"]

    /// Every position's step log-probabilities equal the teacher-forced
    /// graph's, for a padded batch of sources of different lengths; a
    /// padding token fed mid-target (row 2) leaves the state as the target
    /// mask does in the graph.
    func testStepsEqualTeacherForcedGraph() throws {
        let targets = self.targets.enumerated().map { i, t in i == 2 ? [1, 10, 0, 2, 8, 3] : t }
        for cell in cells {
            let model = try Seq2Seq.recurrentModel(cell: cell)
            let full = Seq2Seq.teacherForced(model, sources: sources, targets: targets)
            let decoder = try RecurrentStepper(model: model)
            XCTAssertEqual(decoder.vocabularySize, Seq2Seq.vocab)
            var state = try decoder.start(sources)
            let (n, t, v) = (sources.count, targets[0].count, Seq2Seq.vocab)
            for p in 0..<t {
                let (lp, next) = try decoder.step(state, keeping: Array(0..<n), lastTokens: targets.map { $0[p] })
                XCTAssertEqual(lp.shape, [n, v])
                XCTAssertFalse(lp.requiresGrad, "a step records no autodiff graph")
                for i in 0..<n {
                    let start = (i * t + p) * v
                    assertRowsClose(lp.data[(i * v)..<((i + 1) * v)], full.data[start..<(start + v)], "\(cell), source \(i), position \(p)")
                }
                state = next
                XCTAssertEqual(state.length, p + 1)
            }
        }
    }

    /// States of separately started batches (sources of different lengths,
    /// one of them steps ahead), concatenated, step on exactly as each alone:
    /// what the server does when a request joins running ones.
    func testConcatenatedStatesStepAsEachAlone() throws {
        for cell in cells {
            let model = try Seq2Seq.recurrentModel(cell: cell, seed: 5)
            let decoder = try makeIncrementalDecoder(model: model)
            var a = try decoder.start([sources[0], sources[1]])
            for p in 0..<2 { a = try decoder.step(a, keeping: [0, 1], lastTokens: [targets[0][p], targets[1][p]]).state }
            var b = try decoder.start([sources[2]])
            // Drop row 0 of a first: the concatenation compacts to the sources still used.
            a = a.selecting(rows: [1])
            var joined = GraphDecoder.State.concatenating([a, b])
            XCTAssertEqual(joined.rowCount, 2)
            for p in 0..<3 {
                let ta = targets[1][p + 2], tb = targets[2][p]
                let (la, na) = try decoder.step(a, keeping: [0], lastTokens: [ta])
                let (lb, nb) = try decoder.step(b, keeping: [0], lastTokens: [tb])
                let (lj, nj) = try decoder.step(joined, keeping: [0, 1], lastTokens: [ta, tb])
                let v = Seq2Seq.vocab
                assertRowsClose(lj.data[0..<v], la.data[0..<v], "\(cell): joined row 0, step \(p)")
                assertRowsClose(lj.data[v..<(2 * v)], lb.data[0..<v], "\(cell): joined row 1, step \(p)")
                (a, b, joined) = (na, nb, nj)
            }
        }
    }

    /// Rows repeated and dropped: each new row continues its parent's state.
    func testSelectingRowsRepeatsAndDrops() throws {
        for cell in cells {
            let model = try Seq2Seq.recurrentModel(cell: cell)
            let decoder = try RecurrentStepper(model: model)
            try Seq2Seq.checkForkedRows(decoder, model: model, sources: sources, targets: targets, cell)
        }
    }

    /// Greedy and beam search through `decode` (via `GraphDecoder`) give what
    /// a decoder that recomputes the whole prefix gives, and a batch decodes
    /// as each source alone.
    func testGreedyAndBeamEqualRecomputingDecoderAndEachSourceAlone() throws {
        for cell in cells {
            let model = try Seq2Seq.recurrentModel(cell: cell, seed: 9)
            let stepper = try makeIncrementalDecoder(model: model)
            guard case .recurrent = stepper else { return XCTFail("\(cell): not the recurrent stepper") }
            let reference = RecomputingDecoder(model: model)
            for (width, alpha) in [(1, 0.0), (3, 0.7), (4, 0.0)] {
                let options = DecodingOptions(startToken: Seq2Seq.bos, endToken: Seq2Seq.eos, beamWidth: width,
                                              lengthPenalty: alpha, nBest: min(2, width), maxLength: 7)
                let got = try decode(stepper, sources: sources, options: options)
                let want = try decode(reference, sources: sources, options: options)
                for (i, (g, w)) in zip(got, want).enumerated() {
                    XCTAssertEqual(g.hypotheses.map(\.tokens), w.hypotheses.map(\.tokens), "\(cell) width \(width)")
                    for (a, b) in zip(g.hypotheses, w.hypotheses) { XCTAssertEqual(a.score, b.score, accuracy: 1e-4) }
                    let alone = try decode(stepper, sources: [sources[i]], options: options)[0]
                    XCTAssertEqual(alone.hypotheses.map(\.tokens), g.hypotheses.map(\.tokens), "\(cell) width \(width) source \(i) alone")
                    for (a, b) in zip(alone.hypotheses, g.hypotheses) { XCTAssertEqual(a.score, b.score, accuracy: 1e-5) }
                }
            }
        }
    }

    func testGraphDecoderPicksTheFamilyAndRejectsWhatNeitherCanStep() throws {
        guard case .transformer = try GraphDecoder(model: try Seq2Seq.model(normFirst: false)) else {
            return XCTFail("a transformer graph gets the key/value-cached stepper")
        }
        let rnn = try Seq2Seq.recurrentModel(cell: "gru")
        XCTAssertEqual(try GraphDecoder(model: rnn).vocabularySize, Seq2Seq.vocab)
        XCTAssertThrowsError(try EncoderDecoderStepper(model: rnn)) { XCTAssertTrue("\($0)".contains("recurrent decoder family"), "\($0)") }
        XCTAssertThrowsError(try RecurrentStepper(model: try Seq2Seq.model(normFirst: false))) {
            XCTAssertTrue("\($0)".contains("transformer decoder family"), "\($0)")
        }
        XCTAssertThrowsError(try RecurrentStepper(model: rnn).start([[3, 99]]))
        func rejects(_ change: (inout [LayerSpec]) -> Void, _ why: String, file: StaticString = #filePath, line: UInt = #line) throws {
            var spec = Seq2Seq.recurrentSpec(cell: "gru")
            change(&spec.layers)
            let graph = try GraphModel(spec: spec)
            XCTAssertThrowsError(try makeIncrementalDecoder(model: graph), file: file, line: line) { error in
                XCTAssertTrue(error is IncrementalDecodingError, "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains(why), "\(error)", file: file, line: line)
            }
        }
        try rejects({ $0[6].attrs["bidirectional"] = true }, "is bidirectional")
        try rejects({ $0[7].inputs = ["decoder", "decoder"] }, "must not depend on the target")
        try rejects({ $0[7].inputs = ["encoder", "encoder", "src_mask"] }, "which depends on the source")
        try rejects({ $0[11].inputs = ["encoder"] }, "does not depend on the target")
        // Only per-token layers on the target path.
        try rejects({
            $0[6] = LayerSpec(name: "decoder", type: "dense", inputs: ["tgt_drop"], attrs: ["units": 7])
            $0[7] = LayerSpec(name: "context", type: "dense", inputs: ["decoder"], attrs: ["units": 10])
        }, "no decoder layer")
    }

    func testMixedFamiliesAreRejected() throws {
        var spec = Seq2Seq.spec(normFirst: false)
        // A GRU after the transformer decoder layers.
        spec.layers.insert(LayerSpec(name: "rnn", type: "gru", inputs: ["dec2"], attrs: ["hidden_size": 8]), at: 9)
        spec.layers[10].inputs = ["rnn"]
        XCTAssertThrowsError(try makeIncrementalDecoder(model: try GraphModel(spec: spec))) {
            XCTAssertTrue("\($0)".contains("mixes"), "\($0)")
        }
    }
}
