import DLNN
import DLTensor
import DLTrain
import XCTest

/// The reversal model of `TransformerConvergenceTests`, trained the same way,
/// decoded through the key/value cache (`EncoderDecoderStepper`) with
/// `decode(...)`: greedy and a 4-wide beam (length penalty 0.7, 2-best)
/// reverse held-out sequences (about 6 s). Measured at this seed: 31 of 32 both.
extension TransformerConvergenceTests {
    func testCachedBeamSearchReversesSequences() throws {
        let model = try GraphModel(spec: spec(), seed: 3)
        let lr: Float = 3e-3
        let optimizer = Optimizer(rule: Adam(beta1: 0.9, beta2: 0.98, eps: 1e-9), learningRate: lr, clipNorm: 1)
        var rng = SeededGenerator(seed: 11)
        for step in 0..<800 {
            let b = batch(32, &rng)
            optimizer.learningRate = lr * min(1, Float(step + 1) / 50)
            let logits = model(inputs: ["src": b.src, "tgt": b.tgtIn], ForwardContext(training: true))["logits"]!
            sequenceCrossEntropy(logits: logits, targets: b.tgtOut, ignoreIndex: 0).backward()
            _ = optimizer.step(model.namedParameters)
        }
        let sources = batch(32, &rng).seqs.map { $0.map(Int.init) }
        let decoder = try EncoderDecoderStepper(model: model)
        var exact: [Int: Int] = [:]
        for width in [1, 4] {
            let options = DecodingOptions(startToken: Int(bos), endToken: Int(eos), beamWidth: width,
                                          lengthPenalty: 0.7, nBest: width == 1 ? 1 : 2, maxLength: 10)
            let results = try decode(decoder, sources: sources, options: options)
            exact[width] = zip(sources, results).filter { q, r in
                r.best.map { Array($0.content) } == Array(q.reversed())
            }.count
            if width > 1 { XCTAssertTrue(results.allSatisfy { $0.hypotheses.count == 2 }, "n-best of 2") }
        }
        XCTAssertGreaterThanOrEqual(exact[1]!, 28, "greedy (cached) reversed \(exact[1]!) of 32")
        XCTAssertGreaterThanOrEqual(exact[4]!, 28, "beam 4 (cached) reversed \(exact[4]!) of 32")
        print("reverse task, cached decoding: greedy exact \(exact[1]!)/32, beam 4 exact \(exact[4]!)/32")
    }
}
