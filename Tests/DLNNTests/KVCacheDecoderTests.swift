import DLNN
import DLTensor
import XCTest

/// The key/value-cached decoder of an encoder-decoder model.json against the
/// full teacher-forced graph and a decoder that recomputes the prefix.
final class KVCacheDecoderTests: XCTestCase {
    let sources = [[3, 4], [5, 6, 7, 8, 9], [10, 3, 4]]
    let targets = [[1, 3, 4, 9, 2, 5], [1, 7, 7, 3, 6, 10], [1, 10, 2, 2, 8, 3]]

    /// Every position's step log-probabilities equal the teacher-forced graph's,
    /// for a padded batch of sources of different lengths, post- and pre-norm.
    func testStepsEqualTeacherForcedGraph() throws {
        for normFirst in [false, true] {
            let model = try Seq2Seq.model(normFirst: normFirst)
            let full = Seq2Seq.teacherForced(model, sources: sources, targets: targets)
            let decoder = try EncoderDecoderStepper(model: model)
            XCTAssertEqual(decoder.vocabularySize, Seq2Seq.vocab)
            var state = try decoder.start(sources)
            let (n, t, v) = (sources.count, targets[0].count, Seq2Seq.vocab)
            for p in 0..<t {
                let (lp, next) = try decoder.step(state, keeping: Array(0..<n), lastTokens: targets.map { $0[p] })
                XCTAssertEqual(lp.shape, [n, v])
                for i in 0..<n {
                    let start = (i * t + p) * v
                    assertRowsClose(lp.data[(i * v)..<((i + 1) * v)], full.data[start..<(start + v)],
                                "norm_first \(normFirst), source \(i), position \(p)")
                }
                state = next
            }
        }
    }

    /// A padding token fed as a target is masked out of later steps' self-attention,
    /// as the graph's target mask does.
    func testTargetPaddingIsMaskedLikeTheGraph() throws {
        let model = try Seq2Seq.model(normFirst: false)
        let tgt = [[1, 4, 0, 5]]
        let full = Seq2Seq.teacherForced(model, sources: [[3, 5, 7]], targets: tgt)
        let decoder = try EncoderDecoderStepper(model: model)
        var state = try decoder.start([[3, 5, 7]])
        let v = Seq2Seq.vocab
        for p in 0..<4 {
            let (lp, next) = try decoder.step(state, keeping: [0], lastTokens: [tgt[0][p]])
            if p != 2 { assertRowsClose(lp.data[...], full.data[(p * v)..<((p + 1) * v)], "position \(p)") }
            state = next
        }
    }

    /// Rows repeated and dropped: each new row continues its parent's cache.
    func testSelectingRowsRepeatsAndDrops() throws {
        let model = try Seq2Seq.model(normFirst: true)
        let decoder = try EncoderDecoderStepper(model: model)
        var state = try decoder.start(sources)
        for p in 0..<2 { state = try decoder.step(state, keeping: [0, 1, 2], lastTokens: targets.map { $0[p] }).state }
        let picked = state.selecting(rows: [2, 0, 0])
        XCTAssertEqual(picked.rowCount, 3)
        XCTAssertEqual(picked.length, 2)
        // Fork row 0 into two tokens, keep row 2, drop row 1 (through `keeping`).
        try Seq2Seq.checkForkedRows(decoder, model: model, sources: sources, targets: targets, "transformer")
    }

    /// A step computes one position per row and attends over the cache plus
    /// the new key: the self-attention keys grow by one per step.
    func testStepWorkGrowsByOneKeyPerStep() throws {
        let decoder = try EncoderDecoderStepper(model: try Seq2Seq.model(normFirst: false))
        var state = try decoder.start(sources)
        XCTAssertEqual(state.length, 0)
        XCTAssertEqual(state.lastStep, StepWork(rows: 0, positionsComputed: 0, selfAttentionKeys: 0))
        for p in 0..<5 {
            let rows = p < 3 ? [0, 1, 2] : [1, 1]
            state = try decoder.step(state, keeping: rows.map { min($0, state.rowCount - 1) }, lastTokens: rows.map { _ in 3 }).state
            XCTAssertEqual(state.lastStep, StepWork(rows: rows.count, positionsComputed: rows.count, selfAttentionKeys: p + 1))
            XCTAssertEqual(state.length, p + 1)
        }
    }

    /// Greedy and beam search through `decode` give what a decoder that
    /// recomputes the whole prefix gives.
    func testGreedyAndBeamEqualRecomputingDecoder() throws {
        for normFirst in [false, true] {
            let model = try Seq2Seq.model(normFirst: normFirst, seed: 9)
            let cached = try EncoderDecoderStepper(model: model)
            let reference = RecomputingDecoder(model: model)
            for (width, alpha) in [(1, 0.0), (3, 0.7), (4, 0.0)] {
                let options = DecodingOptions(startToken: Seq2Seq.bos, endToken: Seq2Seq.eos, beamWidth: width,
                                              lengthPenalty: alpha, nBest: min(2, width), maxLength: 7)
                let got = try decode(cached, sources: sources, options: options)
                let want = try decode(reference, sources: sources, options: options)
                for (g, w) in zip(got, want) {
                    XCTAssertEqual(g.hypotheses.map(\.tokens), w.hypotheses.map(\.tokens), "width \(width), norm_first \(normFirst)")
                    for (a, b) in zip(g.hypotheses, w.hypotheses) { XCTAssertEqual(a.score, b.score, accuracy: 1e-4) }
                }
            }
        }
    }

    /// Reference scoring (error analysis) of references of different lengths
    /// equals the recomputing decoder's; nothing is recorded for autodiff.
    func testReferenceScoresEqualRecomputingDecoder() throws {
        let model = try Seq2Seq.model(normFirst: true, seed: 9)
        let options = DecodingOptions(startToken: Seq2Seq.bos, endToken: Seq2Seq.eos, beamWidth: 2, lengthPenalty: 0.7)
        let references = [[3, 4], [9, 8, 7, 6, 5], []]
        let cached = try EncoderDecoderStepper(model: model)
        let got = try scoreReferences(cached, sources: sources, references: references, options: options)
        let want = try scoreReferences(RecomputingDecoder(model: model), sources: sources, references: references, options: options)
        for (g, w) in zip(got, want) {
            XCTAssertEqual(g.tokens, w.tokens)
            XCTAssertEqual(g.score, w.score, accuracy: 1e-4)
        }
        let (lp, _) = try cached.step(try cached.start(sources), keeping: [0, 1, 2], lastTokens: [1, 1, 1])
        XCTAssertTrue(model.namedParameters.allSatisfy { $0.tensor.requiresGrad })
        XCTAssertFalse(lp.requiresGrad, "a step records no autodiff graph")
    }

    func testRejectsGraphsItCannotStep() throws {
        let model = try Seq2Seq.model(normFirst: false)
        XCTAssertThrowsError(try EncoderDecoderStepper(model: model, names: EncoderDecoderNames(output: "dec2_out")))
        XCTAssertThrowsError(try EncoderDecoderStepper(model: model, names: EncoderDecoderNames(source: "source")))
        XCTAssertThrowsError(try EncoderDecoderStepper(model: model, names: EncoderDecoderNames(source: "tgt", target: "src")))
        let decoder = try EncoderDecoderStepper(model: model)
        XCTAssertThrowsError(try decoder.start([[3, 99]]))
        // Graphs whose target path cannot run one token at a time.
        func rejects(_ change: (inout [LayerSpec]) -> Void, _ why: String, file: StaticString = #filePath, line: UInt = #line) throws {
            var spec = Seq2Seq.spec(normFirst: false)
            change(&spec.layers)
            let graph = try GraphModel(spec: spec)
            XCTAssertThrowsError(try EncoderDecoderStepper(model: graph), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(why), "\(error)", file: file, line: line)
            }
        }
        try rejects({ $0[7].attrs["causal"] = false }, "not causal")
        try rejects({ $0[8] = LayerSpec(name: "dec2", type: "multihead_attention", inputs: ["dec1"], attrs: ["num_heads": 2]) },
                    "cannot run one token at a time")
        try rejects({ $0[9] = LayerSpec(name: "final_norm", type: "add", inputs: ["dec2", "memory"]) }, "depends on the source")
        try rejects({ $0[8].inputs = ["dec1", "tgt_pos", "src_mask"] }, "must not depend on the target")
    }
}
