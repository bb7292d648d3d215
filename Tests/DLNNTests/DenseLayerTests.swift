import DLNN
import DLTensor
import DLTesting
import XCTest

/// Dense, activation, dropout and merge layers: gradients, hand-derived
/// values, and model.json validation.
final class DenseLayerTests: XCTestCase {
    let train = ForwardContext(training: true)

    func testLinearGradients() {
        var rng = SeededGenerator(seed: 41)
        let layer = Linear(inFeatures: 7, outFeatures: 5, rng: &rng)
        layer.bias!.data = Tensor.normal([5], std: 1, rng: &rng).data
        let x = Tensor.normal([4, 7], std: 1, rng: &rng)
        let w = Tensor.normal([4, 5], std: 1, rng: &rng)
        let f = { (layer(x, self.train) * w).sum() }
        assertGradient(x, tolerance: 1e-3, "x", f)
        assertGradient(layer.weight, tolerance: 1e-3, "weight", f)
        assertGradient(layer.bias!, tolerance: 1e-3, "bias", f)
        // Leading dimensions fold into rows: [2, 3, 7] -> [2, 3, 5].
        let seq = Tensor.normal([2, 3, 7], std: 1, rng: &rng)
        let ws = Tensor.normal([2, 3, 5], std: 1, rng: &rng)
        XCTAssertEqual(layer(seq, train).shape, [2, 3, 5])
        assertGradient(seq, tolerance: 1e-3, "sequence x") { (layer(seq, self.train) * ws).sum() }
    }

    func testLinearHandDerived() {
        // y = x W^T + b with x = [1, 2], W = [[3, 4]], b = [5]: y = 3 + 8 + 5 = 16.
        // dy/dx = W = [3, 4], dy/dW = x = [1, 2], dy/db = 1.
        let layer = Linear(weight: Tensor(shape: [1, 2], data: [3, 4], requiresGrad: true),
                           bias: Tensor(shape: [1], data: [5], requiresGrad: true))
        let x = Tensor(shape: [1, 2], data: [1, 2], requiresGrad: true)
        let y = layer(x, train)
        XCTAssertEqual(y.data, [16])
        y.sum().backward()
        XCTAssertEqual(x.grad!, [3, 4])
        XCTAssertEqual(layer.weight.grad!, [1, 2])
        XCTAssertEqual(layer.bias!.grad!, [1])
    }

    func testLinearWithoutBias() throws {
        var rng = SeededGenerator(seed: 42)
        let spec = LayerSpec(name: "fc", type: "dense", inputs: ["input"], attrs: ["out_features": 3, "bias": false, "init": "xavier"])
        let layer = try LayerRegistry.make(spec, inputShapes: [[4]], rng: SeededGeneratorBox(seed: 1))
        XCTAssertEqual(layer.parameters.map(\.name), ["weight"])
        XCTAssertEqual(layer.parameters[0].tensor.shape, [3, 4])
        let x = Tensor.normal([2, 4], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3], std: 1, rng: &rng)
        assertGradient(layer.parameters[0].tensor, tolerance: 1e-3, "weight") { (layer([x], self.train) * w).sum() }
    }

    func testHeInitializerScale() {
        // He: std sqrt(2 / fan_in) = sqrt(2 / 512) = 0.0625.
        var rng = SeededGenerator(seed: 43)
        let layer = Linear(inFeatures: 512, outFeatures: 256, rng: &rng)
        let v = layer.weight.data
        let mean = v.reduce(0, +) / Float(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        XCTAssertEqual(std, 0.0625, accuracy: 0.002)
        XCTAssertEqual(mean, 0, accuracy: 0.002)
        XCTAssertEqual(layer.bias!.data, [Float](repeating: 0, count: 256))
    }

    func testDenseSpecErrors() {
        let box = SeededGeneratorBox(seed: 0)
        let spec = LayerSpec(name: "fc", type: "dense", inputs: ["input"], attrs: ["units": 10])
        XCTAssertThrowsError(try LayerRegistry.make(spec, inputShapes: [[1, 28, 28]], rng: box)) { e in
            XCTAssertEqual(e as? ModelError,
                           .shape("dense 'fc' needs a flat input [features], got [1, 28, 28]; add a flatten layer before it"))
        }
        let noUnits = LayerSpec(name: "fc", type: "dense", inputs: ["input"])
        XCTAssertThrowsError(try LayerRegistry.make(noUnits, inputShapes: [[4]], rng: box)) { e in
            XCTAssertEqual(e as? ModelError, .architecture("layer 'fc' (dense): attribute 'units' (or 'out_features') is required"))
        }
        let wrongIn = LayerSpec(name: "fc", type: "dense", inputs: ["input"], attrs: ["units": 2, "in_features": 5])
        XCTAssertThrowsError(try LayerRegistry.make(wrongIn, inputShapes: [[4]], rng: box))
        let badInit = LayerSpec(name: "fc", type: "dense", inputs: ["input"], attrs: ["units": 2, "init": "magic"])
        XCTAssertThrowsError(try LayerRegistry.make(badInit, inputShapes: [[4]], rng: box))
    }

    func testActivationLayersFromSpec() throws {
        var rng = SeededGenerator(seed: 44)
        let x = Tensor.normal([3, 6], std: 2, rng: &rng)
        let box = SeededGeneratorBox(seed: 0)
        let cases: [(String, [String: JSONValue], Tensor)] = [
            ("relu", [:], x.relu()), ("leaky_relu", ["slope": 0.2], x.leakyRelu(slope: 0.2)),
            ("leaky_relu", [:], x.leakyRelu(slope: 0.01)), ("relu6", [:], x.relu6()),
            ("sigmoid", [:], x.sigmoid()), ("tanh", [:], x.tanh()), ("softmax", [:], x.softmax()),
        ]
        for (type, attrs, expected) in cases {
            let layer = try LayerRegistry.make(LayerSpec(name: "a", type: type, inputs: ["input"], attrs: attrs),
                                               inputShapes: [[6]], rng: box)
            XCTAssertEqual(try layer.outputShape([[6]]), [6])
            assertClose(layer([x], train), expected, rtol: 0, atol: 0, type)
            XCTAssertTrue(layer.parameters.isEmpty)
        }
        // Leaky ReLU values: 0.2 * -1 = -0.2.
        let leaky = Activation(.leakyRelu(slope: 0.2))
        XCTAssertEqual(leaky(Tensor(shape: [1, 2], data: [-1, 3]), train).data, [-0.2, 3])
        XCTAssertThrowsError(try Softmax(axis: 0).outputShape([[6]]))
        XCTAssertThrowsError(try Softmax(axis: 3).outputShape([[4, 2]]))
        XCTAssertEqual(try Softmax(axis: 1).outputShape([[4, 2]]), [4, 2])
    }

    func testDropout() {
        var rng = SeededGenerator(seed: 45)
        let x = Tensor.uniform([50, 40], low: 1, high: 2, rng: &rng)
        let d = Dropout(keepProb: 0.8)
        // Inference: the identity, the same tensor.
        XCTAssertTrue(d(x, .inference()) === x)
        // Training: values are 0 or x / 0.8; about 80% kept; mean preserved.
        let y = GradMode.withoutGrad { d(x, ForwardContext(training: true, seed: 7)) }
        var kept = 0
        for i in 0..<x.count {
            if y.data[i] != 0 {
                kept += 1
                XCTAssertEqual(y.data[i], x.data[i] / 0.8, accuracy: 1e-6)
            }
        }
        XCTAssertEqual(Double(kept) / Double(x.count), 0.8, accuracy: 0.02)
        let meanX = x.data.reduce(0, +) / Float(x.count), meanY = y.data.reduce(0, +) / Float(x.count)
        XCTAssertEqual(meanY, meanX, accuracy: 0.03 * meanX)
        // The same seed gives the same mask; the gradient is the mask.
        let y2 = GradMode.withoutGrad { d(x, ForwardContext(training: true, seed: 7)) }
        XCTAssertEqual(y.data, y2.data)
        let w = Tensor.normal([50, 40], std: 1, rng: &rng)
        assertGradient(x, tolerance: 1e-3, "dropout") { (d(x, ForwardContext(training: true, seed: 7)) * w).sum() }
        // A context's generator advances: two calls draw different masks.
        let ctx = ForwardContext(training: true, seed: 9)
        let a = GradMode.withoutGrad { d(x, ctx) }, b = GradMode.withoutGrad { d(x, ctx) }
        XCTAssertNotEqual(a.data, b.data)
    }

    func testDropoutSpec() {
        let box = SeededGeneratorBox(seed: 0)
        XCTAssertThrowsError(try LayerRegistry.make(
            LayerSpec(name: "d", type: "dropout", inputs: ["input"], attrs: ["keep_prob": 0]), inputShapes: [[3]], rng: box))
        XCTAssertThrowsError(try LayerRegistry.make(
            LayerSpec(name: "d", type: "dropout", inputs: ["input"], attrs: ["keep_prob": 1.5]), inputShapes: [[3]], rng: box))
        XCTAssertEqual((try? LayerRegistry.make(
            LayerSpec(name: "d", type: "dropout", inputs: ["input"], attrs: ["keep_prob": 0.7]), inputShapes: [[3]], rng: box)
            as? Dropout)??.keepProb, 0.7)
    }

    func testAddAndConcat() {
        var rng = SeededGenerator(seed: 46)
        let a = Tensor.normal([2, 3, 2, 2], std: 1, rng: &rng)
        let b = Tensor.normal([2, 3, 2, 2], std: 1, rng: &rng)
        let c = Tensor.normal([2, 3, 2, 2], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3, 2, 2], std: 1, rng: &rng)
        let add = Add()
        assertClose(add([a, b, c], train), a + b + c, rtol: 1e-6, atol: 1e-6)
        // Residual use: the same tensor on both paths gets both gradients, d/da sum(w (a + a^2)) = w (1 + 2a).
        assertGradient(a, tolerance: 1e-3, "add residual") { (add([a, a.squared()], self.train) * w).sum() }
        assertGradient(b, tolerance: 1e-3, "add b") { (add([a, b, c], self.train) * w).sum() }

        let d = Tensor.normal([2, 5, 2, 2], std: 1, rng: &rng)
        let cat = Concat()
        let y = cat([a, d], train)
        XCTAssertEqual(y.shape, [2, 8, 2, 2])
        assertClose(y, Tensor.concat([a, d], axis: 1), rtol: 0, atol: 0)
        let wc = Tensor.normal([2, 8, 2, 2], std: 1, rng: &rng)
        assertGradient(a, tolerance: 1e-3, "concat a") { (cat([a, d], self.train) * wc).sum() }
        assertGradient(d, tolerance: 1e-3, "concat d") { (cat([a, d], self.train) * wc).sum() }
        let last = Concat(axis: -1)
        XCTAssertEqual(last([a, a], train).shape, [2, 3, 2, 4])
        assertClose(last([a, b], train), Tensor.concat([a, b], axis: 3), rtol: 0, atol: 0)
    }

    func testMergeShapeErrors() throws {
        XCTAssertThrowsError(try Add().outputShape([[3, 4, 4], [3, 4, 5]])) { e in
            XCTAssertEqual(e as? ModelError, .shape("add needs inputs of one shape, got [3, 4, 4], [3, 4, 5]"))
        }
        XCTAssertThrowsError(try Add().outputShape([[3]]))
        XCTAssertEqual(try Add().outputShape([[3], [3], [3]]), [3])
        XCTAssertEqual(try Concat().outputShape([[3, 4, 4], [5, 4, 4], [1, 4, 4]]), [9, 4, 4])
        XCTAssertThrowsError(try Concat().outputShape([[3, 4, 4], [5, 4, 3]])) { e in
            XCTAssertEqual(e as? ModelError,
                           .shape("concat along axis 1 needs inputs that agree on every other axis, got [3, 4, 4], [5, 4, 3]"))
        }
        XCTAssertThrowsError(try Concat(axis: 0).outputShape([[3], [3]]))
        XCTAssertEqual(try Concat(axis: 2).outputShape([[3, 4], [3, 1]]), [3, 5])
    }
}
