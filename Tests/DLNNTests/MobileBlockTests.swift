import DLNN
import DLTensor
import DLTesting
import XCTest

/// DepthwiseSeparable and InvertedResidual: names, shapes, the residual rule,
/// finite-difference gradients and use inside a graph. (Their values against
/// NumPy are in ConvolutionFixtureTests.)
final class MobileBlockTests: XCTestCase {
    func block(_ type: String, _ attrs: [String: JSONValue], input: [Int], seed: UInt64 = 1) throws -> Layer {
        try LayerRegistry.make(LayerSpec(name: "b", type: type, inputs: ["input"], attrs: attrs),
                               inputShapes: [input], rng: SeededGeneratorBox(seed: seed))
    }

    func testNamesShapesAndResidualRule() throws {
        let ds = try block("depthwise_separable", ["out_channels": 8, "stride": 2], input: [4, 9, 9])
        XCTAssertEqual(ds.parameters.map(\.name), ["dw.weight", "dw_bn.weight", "dw_bn.bias", "pw.weight", "pw_bn.weight", "pw_bn.bias"])
        XCTAssertEqual(ds.parameters.map(\.tensor.shape), [[4, 1, 3, 3], [4], [4], [8, 4, 1, 1], [8], [8]])
        XCTAssertEqual(ds.buffers.map(\.name), ["dw_bn.running_mean", "dw_bn.running_var", "pw_bn.running_mean", "pw_bn.running_var"])
        XCTAssertEqual(try ds.outputShape([[4, 9, 9]]), [8, 5, 5])

        let ir = try block("inverted_residual", ["out_channels": 4], input: [4, 6, 6]) as! InvertedResidual
        XCTAssertTrue(ir.residual)
        XCTAssertEqual(ir.parameters.map(\.name), [
            "expand.weight", "expand_bn.weight", "expand_bn.bias", "dw.weight", "dw_bn.weight", "dw_bn.bias",
            "project.weight", "project_bn.weight", "project_bn.bias",
        ])
        // Expansion 6 by default: 4 -> 24 -> 24 -> 4.
        XCTAssertEqual(ir.parameters.map(\.tensor.shape), [[24, 4, 1, 1], [24], [24], [24, 1, 3, 3], [24], [24], [4, 24, 1, 1], [4], [4]])
        XCTAssertEqual(ir.buffers.count, 6)
        XCTAssertEqual(try ir.outputShape([[4, 6, 6]]), [4, 6, 6])

        let down = try block("inverted_residual", ["out_channels": 4, "stride": 2], input: [4, 7, 7]) as! InvertedResidual
        XCTAssertFalse(down.residual)
        XCTAssertEqual(try down.outputShape([[4, 7, 7]]), [4, 4, 4])
        let widen = try block("inverted_residual", ["out_channels": 6, "expansion": 1], input: [4, 7, 7]) as! InvertedResidual
        XCTAssertFalse(widen.residual)
        XCTAssertNil(widen.expand)
        XCTAssertEqual(widen.parameters.first?.name, "dw.weight")
        XCTAssertEqual(try widen.outputShape([[4, 7, 7]]), [6, 7, 7])
    }

    func testModelFileErrors() throws {
        let ds = try block("depthwise_separable", ["out_channels": 8], input: [4, 9, 9])
        for bad in [[3, 9, 9], [4, 9], [4, 9, 9, 1]] {
            XCTAssertThrowsError(try ds.outputShape([bad]), "\(bad)") { e in
                guard case ModelError.shape? = e as? ModelError else { return XCTFail("\(e)") }
            }
        }
        let ir = try block("inverted_residual", ["out_channels": 4, "expansion": 1], input: [4, 6, 6])
        XCTAssertThrowsError(try ir.outputShape([[5, 6, 6]]))
        for attrs: [String: JSONValue] in [[:], ["out_channels": 4, "kernel_size": 2], ["out_channels": 4, "stride": 0],
                                            ["out_channels": 4, "expansion": 0], ["out_channels": 4, "bn_momentum": 2]] {
            XCTAssertThrowsError(try block("inverted_residual", attrs, input: [4, 6, 6]), "\(attrs)") { e in
                guard case ModelError.architecture? = e as? ModelError else { return XCTFail("\(e)") }
            }
        }
        XCTAssertThrowsError(try block("depthwise_separable", ["out_channels": 4], input: [4]))
    }

    /// Finite differences through conv, batch norm (batch statistics), ReLU /
    /// ReLU6 and the residual add, w.r.t. the input and every parameter.
    /// Batch norm standardizes pre-activations, so many sit near ReLU's kink at
    /// 0; here gamma ~ 0.5 and beta ~ 3 keep every activation inside (0, 6),
    /// where the chain is smooth and central differences are accurate
    /// (epsilon 1e-2, tolerance 1e-2). The masks themselves are checked against
    /// NumPy in ConvolutionFixtureTests and with default BN values below.
    func testGradients() throws {
        let cases: [(String, [String: JSONValue], [Int])] = [
            ("depthwise_separable", ["out_channels": 5], [2, 3, 5, 5]),
            ("depthwise_separable", ["out_channels": 4, "stride": 2], [2, 2, 6, 6]),
            ("inverted_residual", ["out_channels": 3, "expansion": 2], [2, 3, 5, 5]),
            ("inverted_residual", ["out_channels": 4, "expansion": 2, "stride": 2], [2, 3, 6, 6]),
        ]
        for (i, (type, attrs, shape)) in cases.enumerated() {
            let layer = try block(type, attrs, input: Array(shape.dropFirst()), seed: UInt64(i))
            var rng = SeededGenerator(seed: UInt64(300 + i))
            let x = Tensor.normal(shape, std: 1, rng: &rng)
            for (name, p) in layer.parameters {
                if name.hasSuffix("bn.weight") { p.data = p.data.map { _ in 0.5 + 0.05 * rng.normal() } }
                if name.hasSuffix("bn.bias") { p.data = p.data.map { _ in 3 + 0.1 * rng.normal() } }
            }
            let w = Tensor.normal([shape[0]] + (try layer.outputShape([Array(shape.dropFirst())])), std: 1, rng: &rng)
            let f = { (layer([x], ForwardContext(training: true)) * w).sum() }
            assertGradient(x, epsilon: 1e-2, tolerance: 1e-2, "\(type) \(attrs) d/dx", f)
            for (name, p) in layer.parameters {
                if name == "dw_bn.bias" {
                    // In this regime dw_bn.bias shifts each channel by a constant that
                    // the 1x1 convolution keeps constant and the next batch norm
                    // subtracts: its gradient is exactly 0 (up to rounding).
                    p.grad = nil
                    f().backward()
                    XCTAssertLessThan(p.grad!.map(abs).max()!, 1e-4, "\(type) \(attrs) d/d\(name)")
                    continue
                }
                assertGradient(p, epsilon: 1e-2, tolerance: 1e-2, "\(type) \(attrs) d/d\(name)", f)
            }
        }
    }

    /// With default BN values (gamma 1, beta 0) about half the activations are
    /// clipped; central differences then cross a few kinks, so the tolerance
    /// is looser (3e-2), still far below the O(1) error of a wrong mask.
    func testGradientsAcrossReLUKinks() throws {
        for (i, type) in ["depthwise_separable", "inverted_residual"].enumerated() {
            let layer = try block(type, ["out_channels": 4, "expansion": 2], input: [3, 5, 5], seed: UInt64(10 + i))
            var rng = SeededGenerator(seed: UInt64(400 + i))
            let x = Tensor.normal([2, 3, 5, 5], std: 1, rng: &rng)
            let w = Tensor.normal([2, 4, 5, 5], std: 1, rng: &rng)
            let f = { (layer([x], ForwardContext(training: true)) * w).sum() }
            assertGradient(x, epsilon: 1e-3, tolerance: 3e-2, "\(type) d/dx", f)
            for (name, p) in layer.parameters where name.hasSuffix(".weight") && !name.contains("bn") {
                assertGradient(p, epsilon: 1e-3, tolerance: 3e-2, "\(type) d/d\(name)", f)
            }
        }
    }

    func testInferenceUsesRunningStatistics() throws {
        let ir = try block("inverted_residual", ["out_channels": 3, "expansion": 2], input: [3, 4, 4])
        var rng = SeededGenerator(seed: 9)
        let x = Tensor.normal([2, 3, 4, 4], std: 1, rng: &rng)
        // Fresh running statistics (mean 0, var 1): BN is the identity up to eps at inference,
        // so the block is conv -> relu6 -> dw conv -> relu6 -> conv, plus x.
        let a = GradMode.withoutGrad { ir([x], .inference()) }
        let before = ir.buffers.map(\.tensor.data)
        let b = GradMode.withoutGrad { ir([x], .inference()) }
        XCTAssertEqual(a.data, b.data, "inference is deterministic")
        XCTAssertEqual(ir.buffers.map(\.tensor.data), before, "inference leaves running statistics alone")
        _ = ir([x], ForwardContext(training: true))
        XCTAssertNotEqual(ir.buffers.map(\.tensor.data), before, "training updates them")
    }

    /// A small MobileNetV2-style classifier trunk as a graph, with state-dict names.
    func testMobileGraph() throws {
        let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
            LayerSpec(name: "stem", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1, "bias": false]),
            LayerSpec(name: "ds", type: "depthwise_separable", inputs: ["stem"], attrs: ["out_channels": 16]),
            LayerSpec(name: "ir1", type: "inverted_residual", inputs: ["ds"], attrs: ["out_channels": 24, "stride": 2]),
            LayerSpec(name: "ir2", type: "inverted_residual", inputs: ["ir1"], attrs: ["out_channels": 24]),
            LayerSpec(name: "gap", type: "global_avg_pool", inputs: ["ir2"]),
        ])
        let model = try GraphModel(spec: spec, seed: 3)
        XCTAssertEqual(model.shapes["ds"], [16, 14, 14])
        XCTAssertEqual(model.shapes["ir1"], [24, 7, 7])
        XCTAssertEqual(model.outputShape, [24])
        let names = model.stateDict.map(\.name)
        XCTAssertTrue(names.contains("ir2.expand_bn.running_var"))
        XCTAssertTrue(names.contains("ds.pw.weight"))
        XCTAssertEqual(Set(names).count, names.count)
        var rng = SeededGenerator(seed: 4)
        let x = Tensor.uniform([2, 1, 28, 28], low: 0, high: 1, rng: &rng)
        let y = model(x, ForwardContext(training: true))
        XCTAssertEqual(y.shape, [2, 24])
        y.sum().backward()
        XCTAssertTrue(model.namedParameters.allSatisfy { $0.tensor.grad?.count == $0.tensor.count }, "every parameter gets a gradient")
    }
}
