import DLNN
import DLTensor
import DLTesting
import XCTest

/// Pooling, global average pooling and flatten: finite-difference gradients,
/// hand-derived values, shapes and model-file errors.
final class PoolingTests: XCTestCase {
    func make(_ type: String, _ attrs: [String: JSONValue] = [:], input: [Int]) throws -> Layer {
        try LayerRegistry.make(LayerSpec(name: "p", type: type, inputs: ["input"], attrs: attrs),
                               inputShapes: [input], rng: SeededGeneratorBox(seed: 0))
    }

    /// Distinct values 0.1 apart in random order: max pooling is differentiable
    /// there (its kinks are at ties), and central differences with epsilon 1e-2
    /// never swap a window's winner.
    func distinctInput(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let n = shape.product
        var v = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
        v.shuffle(using: &rng)
        return Tensor(shape: shape, data: v)
    }

    func testPoolingGradients() throws {
        let cases: [(String, [String: JSONValue], [Int])] = [
            ("max_pool2d", ["kernel_size": 2], [2, 3, 6, 6]),
            ("max_pool2d", ["kernel_size": 3, "stride": 2, "padding": 1], [2, 2, 7, 7]),
            ("max_pool2d", ["kernel_size": 3, "stride": 1, "padding": "same"], [1, 2, 5, 6]),
            ("max_pool2d", ["kernel_size": [2, 3], "stride": [2, 1]], [1, 2, 5, 6]),
            ("avg_pool2d", ["kernel_size": 2], [2, 3, 6, 6]),
            ("avg_pool2d", ["kernel_size": 3, "stride": 2, "padding": 1], [2, 2, 7, 7]),
            ("global_avg_pool", [:], [2, 3, 4, 5]),
            ("flatten", [:], [2, 3, 4, 5]),
        ]
        for (i, (type, attrs, shape)) in cases.enumerated() {
            let layer = try make(type, attrs, input: Array(shape.dropFirst()))
            let x = distinctInput(shape, seed: UInt64(i))
            var rng = SeededGenerator(seed: UInt64(50 + i))
            let outShape = [shape[0]] + (try layer.outputShape([Array(shape.dropFirst())]))
            let w = Tensor.normal(outShape, std: 1, rng: &rng)
            assertGradient(x, epsilon: 1e-2, tolerance: 1e-2, "\(type) \(attrs)") {
                (layer([x], ForwardContext(training: true)) * w).sum()
            }
        }
    }

    func testHandDerivedPooling() throws {
        // [[1, 2, 5, 3], [4, 0, 6, 7], [9, 8, 1, 1], [2, 3, 1, 0]] in 2x2 windows.
        let x = Tensor(shape: [1, 1, 4, 4], data: [1, 2, 5, 3, 4, 0, 6, 7, 9, 8, 1, 1, 2, 3, 1, 0], requiresGrad: true)
        let maxPool = try make("max_pool2d", ["kernel_size": 2], input: [1, 4, 4])
        let m = maxPool([x], ForwardContext(training: true))
        XCTAssertEqual(m.data, [4, 7, 9, 1])
        // Gradient 1 at each window's max; the last window's tie (1, 1, 1) keeps the first.
        (m * Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])).sum().backward()
        XCTAssertEqual(x.grad!, [0, 0, 0, 0, 1, 0, 0, 2, 3, 0, 4, 0, 0, 0, 0, 0])
        x.grad = nil
        let avgPool = try make("avg_pool2d", ["kernel_size": 2], input: [1, 4, 4])
        let a = avgPool([x], ForwardContext(training: true))
        XCTAssertEqual(a.data, [7.0 / 4, 21.0 / 4, 22.0 / 4, 3.0 / 4])
        a.sum().backward()
        XCTAssertEqual(x.grad!, [Float](repeating: 0.25, count: 16))
        x.grad = nil
        // Padding 1, kernel 3, stride 2 (count_include_pad): the corner window
        // [-1, 1] x [-1, 1] sums 1 + 2 + 4 + 0 = 7 over 9.
        let padded = try make("avg_pool2d", ["kernel_size": 3, "stride": 2, "padding": 1], input: [1, 4, 4])
        XCTAssertEqual(padded([x], .inference()).data[0], 7.0 / 9, accuracy: 1e-6)
        let gap = GlobalAvgPool()([x], ForwardContext(training: true))
        XCTAssertEqual(gap.shape, [1, 1])
        XCTAssertEqual(gap.data, [53.0 / 16])
        gap.sum().backward()
        XCTAssertEqual(x.grad!, [Float](repeating: 1.0 / 16, count: 16))
    }

    func testShapesAndErrors() throws {
        XCTAssertEqual(try make("max_pool2d", ["kernel_size": 2], input: [6, 28, 28]).outputShape([[6, 28, 28]]), [6, 14, 14])
        XCTAssertEqual(try make("max_pool2d", ["kernel_size": 2], input: [6, 7, 7]).outputShape([[6, 7, 7]]), [6, 3, 3])
        XCTAssertEqual(try make("max_pool2d", ["kernel_size": 3, "stride": 2, "padding": "same"], input: [6, 7, 7]).outputShape([[6, 7, 7]]), [6, 4, 4])
        XCTAssertEqual(try make("max_pool2d", ["kernel_size": 3, "stride": 1, "padding": "same"], input: [6, 7, 7]).outputShape([[6, 7, 7]]), [6, 7, 7])
        XCTAssertEqual(try make("avg_pool2d", ["kernel_size": 2, "stride": 1], input: [2, 5, 5]).outputShape([[2, 5, 5]]), [2, 4, 4])
        XCTAssertEqual(try make("global_avg_pool", input: [64, 7, 7]).outputShape([[64, 7, 7]]), [64])
        XCTAssertEqual(try make("flatten", input: [16, 5, 5]).outputShape([[16, 5, 5]]), [400])
        for l in [try make("max_pool2d", ["kernel_size": 2], input: [1, 4, 4]), try make("flatten", input: [1, 4, 4])] {
            XCTAssertTrue(l.parameters.isEmpty && l.buffers.isEmpty)
        }

        func throwsModelError(_ body: () throws -> Any, _ check: (ModelError) -> Bool, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue((e as? ModelError).map(check) ?? false, "unexpected error \(e)", line: line)
            }
        }
        let isShape: (ModelError) -> Bool = { if case .shape = $0 { return true }; return false }
        let isArchitecture: (ModelError) -> Bool = { if case .architecture = $0 { return true }; return false }
        throwsModelError({ try self.make("max_pool2d", ["kernel_size": 3], input: [1, 2, 2]).outputShape([[1, 2, 2]]) }, isShape)
        throwsModelError({ try self.make("avg_pool2d", ["kernel_size": 2], input: [4]).outputShape([[4]]) }, isShape)
        throwsModelError({ try self.make("global_avg_pool", input: [4]).outputShape([[4]]) }, isShape)
        throwsModelError({ try self.make("flatten", input: [1, 4, 4]).outputShape([[1, 4, 4], [1, 4, 4]]) }, isShape)
        throwsModelError({ try self.make("max_pool2d", ["kernel_size": 2, "padding": 2], input: [1, 4, 4]) }, isArchitecture)
        throwsModelError({ try self.make("avg_pool2d", ["kernel_size": 2, "padding": "same"], input: [1, 4, 4]) }, isArchitecture)
        throwsModelError({ try self.make("max_pool2d", ["stride": 2], input: [1, 4, 4]) }, isArchitecture)
    }

    /// LeNet's feature extractor as a graph: conv-pool-conv-pool-flatten gives 400 features.
    func testLeNetFeatureGraph() throws {
        let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
            LayerSpec(name: "conv1", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 6, "kernel_size": 5, "padding": 2]),
            LayerSpec(name: "pool1", type: "max_pool2d", inputs: ["conv1"], attrs: ["kernel_size": 2]),
            LayerSpec(name: "conv2", type: "conv2d", inputs: ["pool1"], attrs: ["out_channels": 16, "kernel_size": 5]),
            LayerSpec(name: "pool2", type: "avg_pool2d", inputs: ["conv2"], attrs: ["kernel_size": 2]),
            LayerSpec(name: "flat", type: "flatten", inputs: ["pool2"]),
        ])
        let model = try GraphModel(spec: spec, seed: 7)
        XCTAssertEqual(model.outputShape, [400])
        XCTAssertEqual(model.shapes["pool1"], [6, 14, 14])
        XCTAssertEqual(model.namedParameters.map(\.name), ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"])
        XCTAssertEqual(model.parameterCount, 6 * 25 + 6 + 16 * 6 * 25 + 16)
        var rng = SeededGenerator(seed: 1)
        let y = model.infer(Tensor.uniform([3, 1, 28, 28], low: 0, high: 1, rng: &rng))
        XCTAssertEqual(y.shape, [3, 400])
        XCTAssertTrue(y.data.allSatisfy(\.isFinite))
    }
}
