import DLNN
import DLTensor
import DLTesting
import XCTest

final class BatchNormTests: XCTestCase {
    /// A layer with non-trivial gamma, beta and running statistics.
    func makeLayer(_ c: Int, seed: UInt64) -> BatchNorm {
        var rng = SeededGenerator(seed: seed)
        let bn = BatchNorm(numFeatures: c)
        bn.weight.data = Tensor.uniform([c], low: 0.5, high: 1.5, rng: &rng).data
        bn.bias.data = Tensor.normal([c], std: 0.5, rng: &rng).data
        bn.runningMean.data = Tensor.normal([c], std: 0.5, rng: &rng).data
        bn.runningVar.data = Tensor.uniform([c], low: 0.5, high: 2, rng: &rng).data
        return bn
    }

    func testGradientsTrainingAndInference() {
        for shape in [[6, 5], [3, 4, 3, 3], [2, 3, 4]] {
            var rng = SeededGenerator(seed: 31)
            let bn = makeLayer(shape[1], seed: 32)
            let x = Tensor.normal(shape, std: 2, rng: &rng) + 1
            let w = Tensor.normal(shape, std: 1, rng: &rng)
            for training in [true, false] {
                let f = { (bn(x, ForwardContext(training: training)) * w).sum() }
                // Correct code measures ~1e-5 here; 1e-3 catches a 1% error in one term.
                assertGradient(x, tolerance: 1e-3, "x training=\(training) \(shape)", f)
                assertGradient(bn.weight, tolerance: 1e-3, "gamma training=\(training) \(shape)", f)
                assertGradient(bn.bias, tolerance: 1e-3, "beta training=\(training) \(shape)", f)
            }
        }
    }

    func testHandDerivedTinyBatch() {
        // x = [1, 2, 3, 4] in one channel: mean 2.5, biased variance 1.25,
        // unbiased 5/3. With gamma 1, beta 0: y = (x - 2.5) / sqrt(1.25 + eps).
        // For f = y_0: dx_i = (m delta_0i - 1 - xhat_0 xhat_i) / (m sigma),
        // and xhat_0 xhat_i = 1.5 (x_i - 2.5) / 1.25 = 1.2 (x_i - 2.5), so
        // dx = [1.2, -1.6, -0.4, 0.8] / (4 sqrt(1.25)).
        let bn = BatchNorm(numFeatures: 1)
        let x = Tensor(shape: [4, 1], data: [1, 2, 3, 4], requiresGrad: true)
        let y = bn(x, ForwardContext(training: true))
        let sigma = (1.25 + 1e-5 as Float).squareRoot()
        assertClose(y.data, [-1.5, -0.5, 0.5, 1.5].map { $0 / sigma }, rtol: 1e-6, atol: 1e-6)
        (y * Tensor(shape: [4, 1], data: [1, 0, 0, 0])).sum().backward()
        let s = 4 * (1.25 as Float).squareRoot()
        assertClose(x.grad!, [1.2 / s, -1.6 / s, -0.4 / s, 0.8 / s], rtol: 1e-4, atol: 1e-6)
        // dgamma = sum(g * xhat) = xhat_0 = -1.5 / sigma; dbeta = sum(g) = 1.
        assertClose(bn.weight.grad!, [-1.5 / sigma], rtol: 1e-6, atol: 1e-6)
        assertClose(bn.bias.grad!, [1], rtol: 0, atol: 0)
        // running = 0.9 running + 0.1 batch: mean 0.9 * 0 + 0.25, var 0.9 * 1 + 0.1 * 5/3.
        assertClose(bn.runningMean.data, [0.25], rtol: 1e-6, atol: 1e-7)
        assertClose(bn.runningVar.data, [0.9 + 0.1 * 5 / 3], rtol: 1e-6, atol: 1e-7)
    }

    func testInferenceUsesRunningStatisticsAndUpdatesNothing() {
        let bn = makeLayer(3, seed: 33)
        var rng = SeededGenerator(seed: 34)
        let x = Tensor.normal([2, 3, 2, 2], std: 1, rng: &rng)
        let before = (bn.runningMean.data, bn.runningVar.data)
        let y = bn(x, .inference())
        XCTAssertEqual(bn.runningMean.data, before.0)
        XCTAssertEqual(bn.runningVar.data, before.1)
        for i in 0..<x.count {
            let c = (i / 4) % 3
            let expected = (x.data[i] - before.0[c]) / (before.1[c] + 1e-5).squareRoot() * bn.weight.data[c] + bn.bias.data[c]
            XCTAssertEqual(y.data[i], expected, accuracy: 1e-5)
        }
    }

    func testRunningStatisticsConvergeToTheData() {
        // Repeated batches of one distribution: running stats approach its
        // mean and (unbiased) variance geometrically, by 0.9 per step.
        let bn = BatchNorm(numFeatures: 2, momentum: 0.1)
        let x = Tensor(shape: [4, 2], data: [1, 10, 2, 20, 3, 30, 4, 40])
        for _ in 0..<200 { _ = GradMode.withoutGrad { bn(x, ForwardContext(training: true)) } }
        assertClose(bn.runningMean.data, [2.5, 25], rtol: 1e-5, atol: 1e-5)
        assertClose(bn.runningVar.data, [5.0 / 3, 500.0 / 3], rtol: 1e-5, atol: 1e-5)
    }

    func testSpecValidation() throws {
        let spec = LayerSpec(name: "bn", type: "batch_norm", inputs: ["input"], attrs: ["num_features": 4])
        XCTAssertThrowsError(try BatchNorm(spec: spec, inputShapes: [[3, 8, 8]])) { error in
            XCTAssertEqual(error as? ModelError, .shape("batch_norm 'bn': num_features 4 but the input has 3 channels"))
        }
        XCTAssertThrowsError(try BatchNorm(spec: spec, inputShapes: [[4, 2, 2, 2]]))
        let bad = LayerSpec(name: "bn", type: "batch_norm", inputs: ["input"], attrs: ["momentum": 1.5])
        XCTAssertThrowsError(try BatchNorm(spec: bad, inputShapes: [[4]]))
        let bn = try BatchNorm(spec: spec, inputShapes: [[4, 8, 8]])
        XCTAssertEqual(try bn.outputShape([[4, 8, 8]]), [4, 8, 8])
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(bn.buffers.map(\.name), ["running_mean", "running_var"])
    }
}
