import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

final class LossTests: XCTestCase {
    func testGradients() {
        var rng = SeededGenerator(seed: 51)
        let logits = Tensor.normal([6, 5], std: 2, rng: &rng)
        let labels = [0, 4, 2, 2, 1, 3]
        assertGradient(logits, tolerance: 1e-3, "softmax cross-entropy") { softmaxCrossEntropy(logits: logits, labels: labels) }
        // Through a hidden layer too, so the upstream gradient is not 1.
        let scale = Tensor.uniform([6, 5], low: 0.5, high: 2, rng: &rng)
        assertGradient(logits, tolerance: 1e-3, "cross-entropy of scaled logits") {
            softmaxCrossEntropy(logits: logits * scale, labels: labels).scaled(by: 3)
        }

        let p = Tensor.uniform([4, 3], low: 0.1, high: 0.9, rng: &rng)
        let t = Tensor(shape: [4, 3], data: (0..<12).map { Float($0 % 2) })
        assertGradient(p, epsilon: 1e-3, tolerance: 1e-3, "bce") { binaryCrossEntropy(probabilities: p, targets: t) }
        let soft = Tensor.uniform([4, 3], low: 0, high: 1, rng: &rng) // soft targets work too
        assertGradient(p, epsilon: 1e-3, tolerance: 1e-3, "bce soft targets") { binaryCrossEntropy(probabilities: p, targets: soft) }
        let z = Tensor.normal([4, 3], std: 3, rng: &rng)
        assertGradient(z, tolerance: 1e-3, "bce logits") { binaryCrossEntropy(logits: z, targets: t) }

        let a = Tensor.normal([3, 4], std: 1, rng: &rng), b = Tensor.normal([3, 4], std: 1, rng: &rng)
        assertGradient(a, tolerance: 1e-3, "mse a") { meanSquaredError(a, b) }
        assertGradient(b, tolerance: 1e-3, "mse b") { meanSquaredError(a, b) }
    }

    func testTripletGradients() {
        // Rows chosen with margins far from the kink at 0 (checked below), so
        // central differences do not straddle it.
        var rng = SeededGenerator(seed: 52)
        let a = Tensor.normal([8, 4], std: 1, rng: &rng)
        let p = a + Tensor.normal([8, 4], std: 0.5, rng: &rng)
        let n = a + Tensor.normal([8, 4], std: 0.7, rng: &rng)
        let alpha: Float = 0.5
        for r in 0..<8 {
            var dap: Float = 0, dan: Float = 0
            for j in 0..<4 {
                dap += Foundation.pow(a.data[r * 4 + j] - p.data[r * 4 + j], 2)
                dan += Foundation.pow(a.data[r * 4 + j] - n.data[r * 4 + j], 2)
            }
            XCTAssertGreaterThan(Swift.abs(dap - dan + alpha), 0.05, "row \(r) is near the kink")
        }
        let f = { tripletLoss(anchor: a, positive: p, negative: n, alpha: alpha) }
        XCTAssertGreaterThan(f().scalar, 0)
        assertGradient(a, tolerance: 1e-3, "anchor", f)
        assertGradient(p, tolerance: 1e-3, "positive", f)
        assertGradient(n, tolerance: 1e-3, "negative", f)
    }

    func testHandDerivedCrossEntropy() {
        // Two classes, logits [0, ln 3]: softmax [1/4, 3/4]. Label 1:
        // loss = -ln(3/4) = 0.2876821; d loss / d logits = softmax - onehot = [1/4, -1/4].
        // Second row, label 0, logits [0, 0]: loss ln 2, gradient [-1/2, 1/2].
        // Mean over N = 2: loss (0.2876821 + 0.6931472) / 2, gradients halved.
        let logits = Tensor(shape: [2, 2], data: [0, Float(Foundation.log(3.0)), 0, 0], requiresGrad: true)
        let loss = softmaxCrossEntropy(logits: logits, labels: [1, 0])
        XCTAssertEqual(loss.shape, [])
        XCTAssertEqual(loss.scalar, (0.287_682_1 + 0.693_147_2) / 2, accuracy: 1e-6)
        loss.backward()
        assertClose(logits.grad!, [0.125, -0.125, -0.25, 0.25], rtol: 1e-5, atol: 1e-7)
    }

    func testHandDerivedTriplet() {
        // a = [0, 0], p = [1, 0], n = [0, 2], alpha 0.5:
        // |a-p|^2 - |a-n|^2 + alpha = 1 - 4 + 0.5 < 0: loss 0, no gradient.
        // With n = [0, 1]: 1 - 1 + 0.5 = 0.5; ga = 2 (n - p) = [-2, 2],
        // gp = -2 (a - p) = [2, 0], gn = 2 (a - n) = [0, -2].
        let a = Tensor(shape: [1, 2], data: [0, 0], requiresGrad: true)
        let p = Tensor(shape: [1, 2], data: [1, 0], requiresGrad: true)
        let far = Tensor(shape: [1, 2], data: [0, 2], requiresGrad: true)
        let l0 = tripletLoss(anchor: a, positive: p, negative: far, alpha: 0.5)
        XCTAssertEqual(l0.scalar, 0)
        l0.backward()
        XCTAssertEqual(a.grad!, [0, 0])
        a.zeroGrad(); p.zeroGrad()
        let near = Tensor(shape: [1, 2], data: [0, 1], requiresGrad: true)
        let l1 = tripletLoss(anchor: a, positive: p, negative: near, alpha: 0.5)
        XCTAssertEqual(l1.scalar, 0.5)
        l1.backward()
        XCTAssertEqual(a.grad!, [-2, 2])
        XCTAssertEqual(p.grad!, [2, 0])
        XCTAssertEqual(near.grad!, [0, -2])
    }

    func testExtremesStayFinite() {
        // Cross-entropy with logits far beyond exp's range: loss 1000 for the wrong class.
        let big = Tensor(shape: [2, 3], data: [1000, 0, -1000, 0, 1e4, 0], requiresGrad: true)
        let ce = softmaxCrossEntropy(logits: big, labels: [1, 1])
        XCTAssertEqual(ce.scalar, 500, accuracy: 1e-3)
        ce.backward()
        assertClose(big.grad!, [0.5, -0.5, 0, 0, 0, 0], rtol: 0, atol: 1e-6)
        // BCE at p = 0 and 1: each log is clamped at -100.
        let p = Tensor(shape: [2], data: [0, 1], requiresGrad: true)
        let bce = binaryCrossEntropy(probabilities: p, targets: Tensor(shape: [2], data: [1, 1]))
        XCTAssertEqual(bce.scalar, 50)
        bce.backward()
        XCTAssertTrue(p.grad!.allSatisfy(\.isFinite))
        // BCE with logits at +-200: no overflow.
        let z = Tensor(shape: [2], data: [200, -200], requiresGrad: true)
        let l = binaryCrossEntropy(logits: z, targets: Tensor(shape: [2], data: [0, 0]))
        XCTAssertEqual(l.scalar, 100, accuracy: 1e-3)
        l.backward()
        assertClose(z.grad!, [0.5, 0], rtol: 0, atol: 1e-7)
    }

    func testNoGradLossRecordsNothing() {
        let logits = Tensor(shape: [1, 3], data: [1, 2, 3], requiresGrad: true)
        let loss = GradMode.withoutGrad { softmaxCrossEntropy(logits: logits, labels: [2]) }
        XCTAssertNil(loss.node)
        // -log softmax([1, 2, 3])[2] = log(e^-2 + e^-1 + 1) = 0.40760596.
        XCTAssertEqual(loss.scalar, 0.407_605_96, accuracy: 1e-6)
    }
}
