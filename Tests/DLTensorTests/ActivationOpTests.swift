import DLKernels
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Tensor-level activations and (log-)softmax: finite-difference gradients,
/// hand-derived values, and the no-grad path.
final class ActivationOpTests: XCTestCase {
    /// Values in +-[0.2, 2.2]: at least 0.2 from the ReLU kink at 0, so a
    /// central difference with epsilon 1e-2 never straddles it.
    func awayFromKinks(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let u = Tensor.uniform(shape, low: 0.2, high: 2.2, rng: &rng).data
        return Tensor(shape: shape, data: u.enumerated().map { $0.offset % 3 == 0 ? -$0.element : $0.element })
    }

    func testElementwiseGradients() {
        let x = awayFromKinks([3, 11], seed: 1)
        var rng = SeededGenerator(seed: 2)
        let w = Tensor.normal([3, 11], std: 1, rng: &rng)
        assertGradient(x, tolerance: 1e-3, "relu") { (x.relu() * w).sum() }
        assertGradient(x, tolerance: 1e-3, "leaky") { (x.leakyRelu(slope: 0.05) * w).sum() }
        assertGradient(x, tolerance: 1e-3, "sigmoid") { (x.sigmoid() * w).sum() }
        assertGradient(x, tolerance: 1e-3, "tanh") { (x.tanh() * w).sum() }
        // relu6 has kinks at 0 and 6: scale into +-[0.6, 6.6] but skip (5.8, 6.2).
        let big = Tensor(shape: x.shape, data: x.data.map { v in let s = v * 3; return Swift.abs(Swift.abs(s) - 6) < 0.2 ? s * 0.9 : s })
        assertGradient(big, tolerance: 1e-3, "relu6") { (big.relu6() * w).sum() }
    }

    func testSoftmaxGradients() {
        var rng = SeededGenerator(seed: 3)
        let x = Tensor.normal([2, 3, 5], std: 1.5, rng: &rng)
        let w = Tensor.normal([2, 3, 5], std: 1, rng: &rng)
        assertGradient(x, tolerance: 1e-3, "softmax last") { (x.softmax() * w).sum() }
        assertGradient(x, tolerance: 1e-3, "softmax axis 1") { (x.softmax(axis: 1) * w).sum() }
        assertGradient(x, tolerance: 1e-3, "log_softmax last") { (x.logSoftmax() * w).sum() }
        assertGradient(x, tolerance: 1e-3, "log_softmax axis 0") { (x.logSoftmax(axis: 0) * w).sum() }
        // NCHW channel softmax with 8 positions in a SIMD block and a tail.
        let img = Tensor.normal([2, 4, 3, 3], std: 1, rng: &rng)
        let wi = Tensor.normal([2, 4, 3, 3], std: 1, rng: &rng)
        assertGradient(img, tolerance: 1e-3, "softmax channels") { (img.softmax(axis: 1) * wi).sum() }
        assertGradient(img, tolerance: 1e-3, "log_softmax channels") { (img.logSoftmax(axis: 1) * wi).sum() }
    }

    func testHandDerivedSigmoidAndTanh() {
        // sigma(0) = 1/2, sigma'(0) = sigma (1 - sigma) = 1/4;
        // sigma(ln 3) = 3/4, sigma'(ln 3) = 3/16.
        let x = Tensor(shape: [2], data: [0, Float(Foundation.log(3.0))], requiresGrad: true)
        let s = x.sigmoid()
        assertClose(s.data, [0.5, 0.75], rtol: 1e-6, atol: 1e-7)
        s.sum().backward()
        assertClose(x.grad!, [0.25, 0.1875], rtol: 1e-6, atol: 1e-7)
        // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5, tanh'(ln 2) = 1 - 9/25 = 16/25.
        let t = Tensor(shape: [1], data: [Float(Foundation.log(2.0))], requiresGrad: true)
        let y = t.tanh()
        XCTAssertEqual(y.data[0], 0.6, accuracy: 1e-6)
        y.sum().backward()
        XCTAssertEqual(t.grad![0], 0.64, accuracy: 1e-6)
    }

    func testHandDerivedSoftmax() {
        // softmax([0, ln 3]) = [1/4, 3/4]. For f = y_1:
        // df/dx_k = y_1 (delta_1k - y_k) = [-3/16, 3/16].
        let x = Tensor(shape: [1, 2], data: [0, Float(Foundation.log(3.0))], requiresGrad: true)
        let y = x.softmax()
        assertClose(y.data, [0.25, 0.75], rtol: 1e-6, atol: 1e-7)
        (y * Tensor(shape: [1, 2], data: [0, 1])).sum().backward()
        assertClose(x.grad!, [-0.1875, 0.1875], rtol: 1e-5, atol: 1e-7)
        // log_softmax: y = [-ln 4, ln 3 - ln 4]; for f = sum(y), df/dx_k = 1 - 2 softmax_k = [1/2, -1/2].
        let z = Tensor(shape: [1, 2], data: [0, Float(Foundation.log(3.0))], requiresGrad: true)
        let ly = z.logSoftmax()
        assertClose(ly.data, [-Float(Foundation.log(4.0)), Float(Foundation.log(0.75))], rtol: 1e-6, atol: 1e-6)
        ly.sum().backward()
        assertClose(z.grad!, [0.5, -0.5], rtol: 1e-5, atol: 1e-6)
    }

    func testSoftmaxRowsSumToOneAndSurviveHugeLogits() {
        let x = Tensor(shape: [2, 3], data: [1000, 1001, 1002, -1000, 0, 1000])
        let y = GradMode.withoutGrad { x.softmax() }
        XCTAssertTrue(y.data.allSatisfy(\.isFinite))
        XCTAssertEqual(y.data[0] + y.data[1] + y.data[2], 1, accuracy: 1e-6)
        // Same as softmax([0, 1, 2]) = [0.09003057, 0.24472847, 0.66524096].
        assertClose(Array(y.data[0..<3]), [0.090_030_57, 0.244_728_47, 0.665_240_96], rtol: 1e-5, atol: 1e-7)
        assertClose(Array(y.data[3..<6]), [0, 0, 1], rtol: 0, atol: 1e-7)
    }

    func testNoGradRecordsNothing() {
        let x = Tensor(shape: [4], data: [1, -2, 3, -4], requiresGrad: true)
        for y in GradMode.withoutGrad({ [x.relu(), x.sigmoid(), x.tanh(), x.softmax(), x.logSoftmax()] }) {
            XCTAssertNil(y.node)
            XCTAssertFalse(y.requiresGrad)
        }
        XCTAssertNotNil(x.relu().node)
    }
}
