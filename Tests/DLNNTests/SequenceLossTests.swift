import DLKernels
import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// `sequenceCrossEntropy`: a hand-derived case, finite differences, the
/// fused kernel against its Double reference, and the edge cases (PyTorch
/// values are in SequenceOpsFixtureTests).
final class SequenceLossTests: XCTestCase {
    func testHandDerivedWithPaddingAndSmoothing() {
        // Two tokens over 2 classes, logits 0 (p = 1/2 each); the second is
        // padding (id 0 ignored). Without smoothing loss = log 2, and
        // dloss/dlogits = [1/2, -1/2] for the real token (target 1), 0 for the pad.
        let logits = Tensor(shape: [1, 2, 2], data: [0, 0, 0, 0], requiresGrad: true)
        let targets = Tensor(shape: [1, 2], data: [1, 0])
        let loss = sequenceCrossEntropy(logits: logits, targets: targets, ignoreIndex: 0)
        XCTAssertEqual(loss.scalar, Float(log(2.0)), accuracy: 1e-6)
        loss.backward()
        assertClose(logits.grad!, [0.5, -0.5, 0, 0], rtol: 0, atol: 1e-6)
        // Smoothing 0.2 over 2 classes: q = [0.1, 0.9], loss still log 2 at
        // uniform p, gradient p - q = [0.4, -0.4].
        logits.zeroGrad()
        let smooth = sequenceCrossEntropy(logits: logits, targets: targets, ignoreIndex: 0, labelSmoothing: 0.2)
        XCTAssertEqual(smooth.scalar, Float(log(2.0)), accuracy: 1e-6)
        smooth.backward()
        assertClose(logits.grad!, [0.4, -0.4, 0, 0], rtol: 0, atol: 1e-6)
    }

    func testNoCountedTokenGivesZero() {
        let logits = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        let loss = sequenceCrossEntropy(logits: logits, targets: Tensor(shape: [2], data: [-100, -100]))
        XCTAssertEqual(loss.scalar, 0)
        loss.backward()
        XCTAssertNil(logits.grad)
    }

    func testGradientWithMaskAndSmoothing() {
        var rng = SeededGenerator(seed: 21)
        let logits = Tensor.normal([2, 4, 5], std: 2, rng: &rng)
        let targets = Tensor(shape: [2, 4], data: [1, 4, 0, 0, 3, 3, 2, 0])
        let mask = Tensor(shape: [2, 4], data: [1, 1, 1, 0, 1, 1, 1, 1])
        assertGradient(logits, "ignore 0") { sequenceCrossEntropy(logits: logits, targets: targets, ignoreIndex: 0) }
        assertGradient(logits, "mask + smoothing") {
            sequenceCrossEntropy(logits: logits, targets: targets, ignoreIndex: nil, mask: mask, labelSmoothing: 0.1)
        }
    }

    func testKernelMatchesReference() {
        var rng = SeededGenerator(seed: 22)
        let (n, k) = (11, 19)
        let logits = Tensor.normal([n * k], std: 3, rng: &rng).data
        let labels = (0..<n).map { $0 % 4 == 3 ? -1 : ($0 * 7) % k }
        for smoothing: Float in [0, 0.15] {
            var probs = [Float](repeating: 0, count: n * k), g2 = probs
            let (sum, count) = Kernels.tokenCrossEntropyForward(logits: logits, labels: labels, n: n, k: k,
                                                                smoothing: smoothing, probs: &probs)
            let scale: Float = 0.5
            Kernels.tokenCrossEntropyBackward(probs: probs, labels: labels, n: n, k: k, smoothing: smoothing,
                                              scale: scale / Float(count), gx: &probs)
            let ref = Kernels.tokenCrossEntropyReference(logits: logits, labels: labels, n: n, k: k, smoothing: smoothing,
                                                         scale: scale, gx: &g2)
            XCTAssertEqual(count, labels.filter { $0 >= 0 }.count)
            XCTAssertEqual(sum / Double(count), ref, accuracy: 1e-5)
            assertClose(probs, g2, rtol: 1e-4, atol: 1e-6, "smoothing \(smoothing)")
        }
    }
}
