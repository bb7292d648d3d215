import DLKernels
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Fast activation and softmax kernels held against their plain references,
/// on sizes with a scalar tail and on extreme inputs.
final class ActivationKernelTests: XCTestCase {
    static let functions: [Kernels.Activation] = [.relu, .leakyRelu(slope: 0.1), .relu6, .sigmoid, .tanh]

    /// Values covering the polynomial/exp switch of tanh, saturation and overflow ranges.
    func probeValues() -> [Float] {
        var rng = SeededGenerator(seed: 11)
        var v = Tensor.normal([203], std: 3, rng: &rng).data
        v += [0, -0, 1e-6, -1e-6, 1e-3, -1e-3, 0.3, -0.3, 0.62, 0.63, -0.62, -0.63, 5.9, 6.1, 9, -9, 20, -20,
              50, -50, 88, -88, 100, -100, 1e4, -1e4, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        return v
    }

    func testActivationsMatchReference() {
        let x = probeValues()
        let n = x.count
        for f in Self.functions {
            var fast = [Float](repeating: 0, count: n), ref = fast
            Kernels.activationForward(f, x, &fast, n)
            Kernels.activationForwardReference(f, x, &ref, n)
            // 2 ulp relative, plus a tiny absolute floor for values near 0.
            assertClose(fast, ref, rtol: 3e-7, atol: 1e-30, "forward \(f)")
            XCTAssertTrue(fast.allSatisfy(\.isFinite), "forward \(f) is finite")

            var rng = SeededGenerator(seed: 12)
            let gy = Tensor.normal([n], std: 1, rng: &rng).data
            var gFast = [Float](repeating: 0, count: n), gRef = gFast
            Kernels.activationBackward(f, x: x, y: fast, gy: gy, gx: &gFast, n)
            Kernels.activationBackwardReference(f, x: x, gy: gy, gx: &gRef, n)
            // Backward from y: y (1 - y) and 1 - y^2 lose relative accuracy where
            // they are tiny, so compare with an absolute floor.
            assertClose(gFast, gRef, rtol: 1e-5, atol: 1e-6, "backward \(f)")
        }
    }

    func testSigmoidAndTanhAreStableAtExtremes() {
        let x: [Float] = [-1000, -100, -30, 30, 100, 1000]
        var s = [Float](repeating: 0, count: 6), t = s
        Kernels.activationForward(.sigmoid, x, &s, 6)
        Kernels.activationForward(.tanh, x, &t, 6)
        // sigma(-30) = e^-30 / (1 + e^-30) = 9.357623e-14: the negative branch keeps relative accuracy.
        XCTAssertEqual(s[2], 9.357_623e-14, accuracy: 1e-19)
        XCTAssertEqual(s[0], 0)
        XCTAssertEqual(s[5], 1)
        XCTAssertEqual(t, [-1, -1, -1, 1, 1, 1])
    }

    func testKinksFollowPyTorch() {
        // relu'(0) = 0, leaky'(0) = slope, relu6'(0) = relu6'(6) = 0.
        let x: [Float] = [0, 6, 0, 0, 6, 0, 0, 0, 0] // 9 values: one SIMD block and a tail
        let g = [Float](repeating: 1, count: 9)
        var out = [Float](repeating: 0, count: 9)
        Kernels.activationBackward(.relu, x: x, y: x, gy: g, gx: &out, 9)
        XCTAssertEqual(out, [0, 1, 0, 0, 1, 0, 0, 0, 0])
        Kernels.activationBackward(.leakyRelu(slope: 0.2), x: x, y: x, gy: g, gx: &out, 9)
        XCTAssertEqual(out, [0.2, 1, 0.2, 0.2, 1, 0.2, 0.2, 0.2, 0.2])
        Kernels.activationBackward(.relu6, x: x, y: x, gy: g, gx: &out, 9)
        XCTAssertEqual(out, [Float](repeating: 0, count: 9))
    }

    func testSoftmaxMatchesReference() {
        var rng = SeededGenerator(seed: 13)
        // (outer, dim, inner): rows with and without a tail, and a strided axis
        // with a vector block and a tail.
        for (outer, dim, inner) in [(3, 19, 1), (2, 8, 1), (4, 3, 1), (2, 5, 11), (1, 7, 8), (3, 1, 3)] {
            let n = outer * dim * inner
            var x = Tensor.normal([n], std: 4, rng: &rng).data
            x[0] = 80 // large logits must not overflow
            let gy = Tensor.normal([n], std: 1, rng: &rng).data
            for log in [false, true] {
                var fast = [Float](repeating: 0, count: n), ref = fast
                Kernels.softmaxForward(x, &fast, outer: outer, dim: dim, inner: inner, log: log)
                Kernels.softmaxForwardReference(x, &ref, outer: outer, dim: dim, inner: inner, log: log)
                assertClose(fast, ref, rtol: 1e-5, atol: 1e-6, "forward log=\(log) \((outer, dim, inner))")
                var gFast = [Float](repeating: 0, count: n), gRef = gFast
                Kernels.softmaxBackward(y: fast, gy: gy, gx: &gFast, outer: outer, dim: dim, inner: inner, log: log)
                Kernels.softmaxBackwardReference(y: fast, gy: gy, gx: &gRef, outer: outer, dim: dim, inner: inner, log: log)
                assertClose(gFast, gRef, rtol: 1e-4, atol: 1e-5, "backward log=\(log) \((outer, dim, inner))")
            }
        }
    }

    func testLogSoftmaxKeepsTinyProbabilities() {
        // log softmax([0, -200]) = [0, -200] exactly where log(softmax) would give -inf.
        let x: [Float] = [0, -200]
        var y: [Float] = [0, 0]
        Kernels.softmaxForward(x, &y, outer: 1, dim: 2, inner: 1, log: true)
        XCTAssertEqual(y, [0, -200])
    }
}
