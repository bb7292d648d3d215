import DLNN
import DLTensor
@testable import DLTrain
import XCTest

/// Teacher-forcing batches: padding with 0, decoder input and target shifted
/// by one, batches by length within the token budget, a per-epoch order.
final class TranslationBatchTests: XCTestCase {
    // <bos> = 2, <eos> = 3.
    let pairs = [
        EncodedPair(source: [5, 6, 3], target: [2, 7, 8, 9, 3]),
        EncodedPair(source: [5, 3], target: [2, 7, 3]),
    ]

    func testPaddingAndShiftedTargets() {
        let b = TranslationBatch(pairs)
        XCTAssertEqual(b.src.shape, [2, 3])
        XCTAssertEqual(b.src.data, [5, 6, 3, 5, 3, 0])
        XCTAssertEqual(b.tgtIn.shape, [2, 4])
        XCTAssertEqual(b.tgtIn.data, [2, 7, 8, 9, 2, 7, 0, 0], "target without its last id")
        XCTAssertEqual(b.tgtOut.data, [7, 8, 9, 3, 7, 3, 0, 0], "target without its first id, padded with the ignore index")
        XCTAssertEqual(b.sourceTokens, 5)
        XCTAssertEqual(b.targetTokens, 6)
        XCTAssertEqual(Set(b.inputs.keys), ["src", "tgt"])
    }

    func testTheLossIgnoresPadding() {
        let b = TranslationBatch(pairs)
        // Logits that put all mass on the right token where a token counts, and on a wrong one at padding.
        var logits = [Float](repeating: 0, count: 2 * 4 * 10)
        for i in 0..<8 {
            let t = Int(b.tgtOut.data[i])
            logits[i * 10 + (t == 0 ? 1 : t)] = 50
        }
        let l = sequenceCrossEntropy(logits: Tensor(shape: [2, 4, 10], data: logits), targets: b.tgtOut, ignoreIndex: TranslationBatch.padding)
        XCTAssertEqual(l.scalar, 0, accuracy: 1e-5)
    }

    func testBatchesByLengthWithinTheBudget() {
        var rng = SeededGenerator(seed: 1)
        let many = (0..<300).map { _ in
            EncodedPair(source: Array(repeating: 5, count: 1 + Int(rng.next() % 30)), target: [2] + Array(repeating: 6, count: Int(rng.next() % 30)) + [3])
        }
        let budget = 200
        let batches = TranslationBatching.batches(many, batchTokens: budget)
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<300), "every pair exactly once")
        for b in batches {
            let s = b.map { many[$0].source.count }.max()!, t = b.map { many[$0].target.count }.max()!
            XCTAssertTrue(b.count == 1 || b.count * (s + t) <= budget, "batch of \(b.count) with S \(s) T \(t)")
        }
        // Sorted by target length: a batch's target lengths are a run.
        let maxima = batches.map { b in b.map { many[$0].target.count }.max()! }
        XCTAssertEqual(maxima, maxima.sorted())
        let e0 = TranslationBatching.epochOrder(batches, seed: 7, epoch: 0)
        XCTAssertEqual(e0, TranslationBatching.epochOrder(batches, seed: 7, epoch: 0), "deterministic")
        XCTAssertNotEqual(e0, TranslationBatching.epochOrder(batches, seed: 7, epoch: 1))
        XCTAssertEqual(e0.map { $0[0] }.sorted(), batches.map { $0[0] }.sorted(), "a permutation of the batches")
    }

    func testWarmupThenInverseSquareRoot() {
        let s = WarmupInverseSquareRoot(warmupSteps: 100)
        XCTAssertEqual(s.learningRate(1, step: 1), 0.01, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(1, step: 50), 0.5, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(1, step: 100), 1, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(1, step: 400), 0.5, accuracy: 1e-7)
        XCTAssertEqual(WarmupInverseSquareRoot(warmupSteps: 0).learningRate(0.3, step: 9), 0.3)
    }
}
