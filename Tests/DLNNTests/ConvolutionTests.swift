import DLNN
import DLTensor
import DLTesting
import XCTest

/// Conv2D and ConvTranspose2D: finite-difference gradients w.r.t. the input
/// and every parameter, output sizes, and the errors a model file can cause.
/// Convolution is linear in each argument, so central differences are exact up
/// to float rounding: epsilon 1e-2, tolerance 1e-2 (relative error).
final class ConvolutionTests: XCTestCase {
    func conv(_ attrs: [String: JSONValue], input: [Int], seed: UInt64 = 1) throws -> Layer {
        try LayerRegistry.make(LayerSpec(name: "c", type: "conv2d", inputs: ["input"], attrs: attrs),
                               inputShapes: [input], rng: SeededGeneratorBox(seed: seed))
    }

    /// Checks d(sum(layer(x) * w))/d(x and every parameter).
    func checkGradients(_ layer: Layer, inputShape: [Int], seed: UInt64, _ label: String,
                        file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: seed)
        let x = Tensor.normal(inputShape, std: 1, rng: &rng)
        for (_, p) in layer.parameters {
            // Non-zero biases, so that a wrong bias path shows.
            p.data = Tensor.normal(p.shape, std: 0.5, rng: &rng).data
        }
        let outShape = [inputShape[0]] + (try layer.outputShape([Array(inputShape.dropFirst())]))
        let w = Tensor.normal(outShape, std: 1, rng: &rng)
        let f = { (layer([x], ForwardContext(training: true)) * w).sum() }
        assertGradient(x, "\(label) d/dx", file: file, line: line, f)
        for (name, p) in layer.parameters {
            assertGradient(p, "\(label) d/d\(name)", file: file, line: line, f)
            p.grad = nil
        }
    }

    func testConv2DGradients() throws {
        let cases: [(String, [String: JSONValue], [Int])] = [
            ("3x3 s1 valid", ["out_channels": 4, "kernel_size": 3], [2, 3, 6, 6]),
            ("3x3 s2 same", ["out_channels": 3, "kernel_size": 3, "stride": 2, "padding": "same"], [2, 2, 8, 7]),
            ("rect k, rect s, rect pad", ["out_channels": 2, "kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0]], [1, 3, 5, 7]),
            ("1x1", ["out_channels": 5, "kernel_size": 1], [2, 4, 3, 3]),
            ("1x1 s2 no bias", ["out_channels": 3, "kernel_size": 1, "stride": 2, "bias": false], [2, 4, 5, 5]),
            ("groups 2", ["out_channels": 4, "kernel_size": 3, "padding": 1, "groups": 2], [2, 4, 5, 5]),
            ("depthwise", ["out_channels": 3, "kernel_size": 3, "padding": "same", "groups": 3], [2, 3, 6, 6]),
            ("depthwise x2 s2", ["out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "groups": 3], [2, 3, 7, 7]),
        ]
        for (i, (label, attrs, shape)) in cases.enumerated() {
            let layer = try conv(attrs, input: Array(shape.dropFirst()))
            try checkGradients(layer, inputShape: shape, seed: UInt64(100 + i), "conv2d \(label)")
        }
    }

    func testConvTranspose2DGradients() throws {
        let cases: [(String, [String: JSONValue], [Int])] = [
            ("k3 s2 p1 op1", ["out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1], [2, 3, 3, 3]),
            ("k2 s2 (2x upsampling)", ["out_channels": 3, "kernel_size": 2, "stride": 2], [1, 2, 4, 4]),
            ("rect, groups 2, no bias", ["out_channels": 4, "kernel_size": [3, 2], "stride": [1, 2], "groups": 2, "bias": false], [2, 2, 3, 4]),
        ]
        for (i, (label, attrs, shape)) in cases.enumerated() {
            let layer = try LayerRegistry.make(LayerSpec(name: "t", type: "conv_transpose2d", inputs: ["input"], attrs: attrs),
                                               inputShapes: [Array(shape.dropFirst())], rng: SeededGeneratorBox(seed: 3))
            try checkGradients(layer, inputShape: shape, seed: UInt64(200 + i), "conv_transpose2d \(label)")
        }
    }

    func testHandDerivedConvolution() throws {
        // A 2x2 averaging kernel with bias 1 over [[1,2,3],[4,5,6],[7,8,9]]:
        // out = mean of each 2x2 window + 1 = [[4, 5], [7, 8]].
        // d(sum out)/dx = how many windows cover each pixel / 4 = [[1,2,1],[2,4,2],[1,2,1]] / 4.
        let layer = try conv(["out_channels": 1, "kernel_size": 2], input: [1, 3, 3]) as! Conv2D
        layer.weight.data = [0.25, 0.25, 0.25, 0.25]
        layer.bias!.data = [1]
        let x = Tensor(shape: [1, 1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9], requiresGrad: true)
        let y = layer(x, ForwardContext(training: true))
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.data, [4, 5, 7, 8])
        y.sum().backward()
        XCTAssertEqual(x.grad!, [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25])
        // d/dw[i,j] = sum of the pixels that weight sees = window sums.
        XCTAssertEqual(layer.weight.grad!, [12, 16, 24, 28])
        XCTAssertEqual(layer.bias!.grad!, [4])
    }

    func testOutputSizes() throws {
        // floor((n + 2p - f) / s) + 1.
        XCTAssertEqual(try conv(["out_channels": 8, "kernel_size": 5], input: [1, 28, 28]).outputShape([[1, 28, 28]]), [8, 24, 24])
        XCTAssertEqual(try conv(["out_channels": 6, "kernel_size": 5, "padding": 2], input: [1, 28, 28]).outputShape([[1, 28, 28]]), [6, 28, 28])
        XCTAssertEqual(try conv(["out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1], input: [2, 28, 28]).outputShape([[2, 28, 28]]), [4, 14, 14])
        XCTAssertEqual(try conv(["out_channels": 4, "kernel_size": [3, 1], "stride": [2, 1]], input: [2, 9, 5]).outputShape([[2, 9, 5]]), [4, 4, 5])
        // "same" gives ceil(n / s) for every n, f, s.
        for n in 1...12 {
            for f in 1...5 {
                for s in 1...3 {
                    let c = try conv(["out_channels": 1, "kernel_size": .number(Double(f)), "stride": .number(Double(s)), "padding": "same"], input: [1, n, n])
                    XCTAssertEqual(try c.outputShape([[1, n, n]]), [1, (n + s - 1) / s, (n + s - 1) / s], "n \(n) f \(f) s \(s)")
                }
            }
        }
        let t = try LayerRegistry.make(
            LayerSpec(name: "t", type: "conv_transpose2d", inputs: ["input"],
                      attrs: ["out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1]),
            inputShapes: [[4, 7, 7]], rng: SeededGeneratorBox(seed: 0))
        // (7 - 1) * 2 - 2 + 3 + 1 = 14.
        XCTAssertEqual(try t.outputShape([[4, 7, 7]]), [2, 14, 14])
        XCTAssertEqual(t.parameters.map(\.tensor.shape), [[4, 2, 3, 3], [2]])
    }

    func testParameterNamesAndLayouts() throws {
        let c = try conv(["out_channels": 6, "kernel_size": [3, 2], "groups": 2], input: [4, 8, 8])
        XCTAssertEqual(c.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(c.parameters.map(\.tensor.shape), [[6, 2, 3, 2], [6]])
        XCTAssertEqual(c.parameters[1].tensor.data, [Float](repeating: 0, count: 6))
        XCTAssertTrue(c.parameters.allSatisfy { $0.tensor.requiresGrad })
        // He: std sqrt(2 / fanIn), fanIn = 2 * 3 * 2 = 12.
        let big = try conv(["out_channels": 64, "kernel_size": 3], input: [32, 8, 8]) as! Conv2D
        let std = (big.weight.data.map { Double($0 * $0) }.reduce(0, +) / Double(big.weight.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 288).squareRoot(), accuracy: 0.005)
        XCTAssertEqual(try conv(["out_channels": 2, "kernel_size": 1, "bias": false], input: [3, 4, 4]).parameters.map(\.name), ["weight"])
    }

    func testModelFileErrors() throws {
        func shapeError(_ body: () throws -> Any) {
            XCTAssertThrowsError(try body()) { e in
                guard case ModelError.shape(let m)? = e as? ModelError else { return XCTFail("not a shape error: \(e)") }
                XCTAssertFalse(m.isEmpty)
            }
        }
        func architectureError(_ body: () throws -> Any) {
            XCTAssertThrowsError(try body()) { e in
                guard case ModelError.architecture? = e as? ModelError else { return XCTFail("not an architecture error: \(e)") }
            }
        }
        let c = try conv(["out_channels": 4, "kernel_size": 5], input: [3, 8, 8])
        shapeError { try c.outputShape([[3, 4, 4]]) }  // smaller than the kernel
        shapeError { try c.outputShape([[2, 8, 8]]) }  // wrong channels
        shapeError { try c.outputShape([[3, 8]]) }  // not [C, H, W]
        shapeError { try self.conv(["out_channels": 4, "kernel_size": 3], input: [8]) }
        architectureError { try self.conv(["out_channels": 4, "kernel_size": 3, "groups": 2], input: [3, 8, 8]) }
        architectureError { try self.conv(["out_channels": 4, "kernel_size": 3, "padding": "full"], input: [3, 8, 8]) }
        architectureError { try self.conv(["out_channels": 4, "kernel_size": 0], input: [3, 8, 8]) }
        architectureError { try self.conv(["out_channels": 4, "kernel_size": [3, 3, 3]], input: [3, 8, 8]) }
        architectureError { try self.conv(["kernel_size": 3], input: [3, 8, 8]) }
        architectureError { try self.conv(["out_channels": 4, "kernel_size": 3, "init": "orthogonal"], input: [3, 8, 8]) }
        architectureError {
            try LayerRegistry.make(
                LayerSpec(name: "t", type: "conv_transpose2d", inputs: ["input"],
                          attrs: ["out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2]),
                inputShapes: [[4, 7, 7]], rng: SeededGeneratorBox(seed: 0))
        }
        let t = try LayerRegistry.make(
            LayerSpec(name: "t", type: "conv_transpose2d", inputs: ["input"], attrs: ["out_channels": 2, "kernel_size": 1, "padding": 1]),
            inputShapes: [[4, 2, 2]], rng: SeededGeneratorBox(seed: 0))
        shapeError { try t.outputShape([[4, 2, 2]]) }  // (2-1) - 2 + 1 = 0: empty output
        shapeError { try t.outputShape([[3, 5, 5]]) }
        // A whole graph: a conv that does not fit its input is rejected at load time.
        let spec = ModelSpec(inputShape: [1, 6, 6], layers: [
            LayerSpec(name: "c1", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 2, "kernel_size": 3]),
            LayerSpec(name: "c2", type: "conv2d", inputs: ["c1"], attrs: ["out_channels": 2, "kernel_size": 5]),
        ])
        shapeError { try GraphModel(spec: spec) }
        XCTAssertThrowsError(try GraphModel(spec: spec)) { e in
            XCTAssertEqual("\(e)", "shape mismatch: conv2d 'c2': input 4x4 with padding \"valid\" is smaller than the 5x5 kernel")
        }
        XCTAssertThrowsError(try c.outputShape([[2, 8, 8]])) { e in
            XCTAssertEqual("\(e)", "shape mismatch: conv2d 'c': expects 3 input channels, got 2 (input [2, 8, 8])")
        }
    }
}
