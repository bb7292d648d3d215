import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Conv2D, ConvTranspose2D, pooling and the mobile blocks (in training mode) against NumPy references
/// (scripts/fixtures/conv_fixtures.py, PyTorch semantics): forward output and,
/// for the loss L = sum(out * gy), the gradients of x, weight and bias, within 1e-4.
final class ConvolutionFixtureTests: XCTestCase {
    struct Case: Decodable {
        let type: String
        let inputShape: [Int]
        let attrs: [String: JSONValue]
        enum CodingKeys: String, CodingKey { case type, attrs, inputShape = "input_shape" }
    }

    func fixtures() throws -> (cases: [String: Case], tensors: [String: Tensor]) {
        let cases = try XCTUnwrap(Bundle.module.url(forResource: "conv_cases", withExtension: "json", subdirectory: "Fixtures"))
        let tensors = try XCTUnwrap(Bundle.module.url(forResource: "conv", withExtension: "json", subdirectory: "Fixtures"))
        return (try JSONDecoder().decode([String: Case].self, from: Data(contentsOf: cases)), try loadFixtures(tensors))
    }

    func testEveryCaseMatchesNumPy() throws {
        let (cases, t) = try fixtures()
        XCTAssertEqual(cases.count, 31)
        var kinds: Set<String> = []
        for (name, c) in cases.sorted(by: { $0.key < $1.key }) {
            kinds.insert(c.type)
            let spec = LayerSpec(name: "l", type: c.type, inputs: ["input"], attrs: c.attrs)
            let inShape = Array(c.inputShape.dropFirst())
            let layer = try LayerRegistry.make(spec, inputShapes: [inShape], rng: SeededGeneratorBox(seed: 1))
            let expectedOut = try XCTUnwrap(t["\(name).out"], name)
            XCTAssertEqual(try layer.outputShape([inShape]), Array(expectedOut.shape.dropFirst()), "\(name) outputShape")

            // Load the reference weights into the layer's own parameters; the
            // fixture has a gradient for exactly those.
            let params = Dictionary(uniqueKeysWithValues: layer.parameters.map { ($0.name, $0.tensor) })
            let gradKeys = t.keys.filter { $0.hasPrefix("\(name).g") && $0 != "\(name).gx" && $0 != "\(name).gy" }
            XCTAssertEqual(Set(gradKeys), Set(params.keys.map { "\(name).g\($0)" }), "\(name) parameters")
            for (key, p) in params {
                let ref = try XCTUnwrap(t["\(name).\(key)"])
                XCTAssertEqual(p.shape, ref.shape, "\(name).\(key) shape")
                p.data = ref.data
                p.grad = nil
            }
            let x = try XCTUnwrap(t["\(name).x"])
            x.requiresGrad = true
            x.grad = nil
            let out = layer([x], ForwardContext(training: true))
            assertClose(out, expectedOut, rtol: 1e-4, atol: 1e-4, "\(name) forward")
            // Batch norm's running statistics after one training step (mobile blocks).
            for (key, b) in layer.buffers {
                assertClose(b, try XCTUnwrap(t["\(name).\(key)"], "\(name).\(key)"), rtol: 1e-4, atol: 1e-5, "\(name).\(key)")
            }
            (out * t["\(name).gy"]!).sum().backward()
            assertClose(Tensor(shape: x.shape, data: x.grad ?? []), t["\(name).gx"]!, rtol: 1e-4, atol: 1e-4, "\(name) gx")
            for (key, p) in params {
                assertClose(Tensor(shape: p.shape, data: p.grad ?? []), t["\(name).g\(key)"]!, rtol: 1e-4, atol: 1e-4, "\(name) g\(key)")
            }
        }
        XCTAssertEqual(kinds, ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "depthwise_separable", "inverted_residual"])
    }

    func testInferenceModeGivesTheSameValuesAndRecordsNothing() throws {
        let (cases, t) = try fixtures()
        let name = "conv_3to4_s2_same"
        let c = try XCTUnwrap(cases[name])
        let layer = try LayerRegistry.make(LayerSpec(name: "l", type: c.type, inputs: ["input"], attrs: c.attrs),
                                           inputShapes: [Array(c.inputShape.dropFirst())], rng: SeededGeneratorBox(seed: 1))
        for (key, p) in layer.parameters { p.data = t["\(name).\(key)"]!.data }
        let out = GradMode.withoutGrad { layer([t["\(name).x"]!], .inference()) }
        XCTAssertFalse(out.requiresGrad)
        assertClose(out, t["\(name).out"]!, rtol: 1e-4, atol: 1e-4)
    }
}
