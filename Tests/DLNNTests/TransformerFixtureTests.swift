import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The transformer layers and additive attention against PyTorch 2.13
/// (`nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer` with
/// batch_first, loaded by state-dict name, train mode with dropout 0) from
/// scripts/fixtures/transformer_fixtures.py: outputs and the gradients of
/// every input and parameter within 1e-4.
final class TransformerFixtureTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "transformer", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    func t(_ name: String, grad: Bool = false) throws -> Tensor {
        let x = try XCTUnwrap(f[name], name)
        return Tensor(shape: x.shape, data: x.data, requiresGrad: grad)
    }

    func grad(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.grad ?? [Float](repeating: 0, count: x.count)) }

    /// Copies the case's parameters in by name; the layer must have exactly PyTorch's state dict.
    func load(_ parameters: [(name: String, tensor: Tensor)], _ p: String) throws {
        let expected = f.keys.filter { $0.hasPrefix("\(p)_grad_") }.map { String($0.dropFirst(p.count + 6)) }.sorted()
        XCTAssertEqual(parameters.map(\.name).sorted(), expected, "\(p): state-dict names")
        for (name, param) in parameters {
            let w = try t("\(p)_\(name)")
            XCTAssertEqual(param.shape, w.shape, "\(p) \(name)")
            param.data = w.data
        }
    }

    func checkParameterGrads(_ parameters: [(name: String, tensor: Tensor)], _ p: String) throws {
        for (name, param) in parameters {
            assertClose(grad(param), try t("\(p)_grad_\(name)"), "\(p) grad \(name)")
        }
    }

    func options(normFirst: Bool, activation: TransformerOptions.Activation) -> TransformerOptions {
        TransformerOptions(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0, activation: activation, normFirst: normFirst)
    }

    func encoderCase(_ p: String, normFirst: Bool, activation: TransformerOptions.Activation, causal: Bool) throws {
        var rng = SeededGenerator(seed: 0)
        let layer = TransformerEncoderLayer(options(normFirst: normFirst, activation: activation), causal: causal, rng: &rng)
        try load(layer.parameters, p)
        let x = try t("\(p)_x", grad: true)
        let y = layer([x, try t("\(p)_keep")], ForwardContext(training: true))
        assertClose(y, try t("\(p)_y"), "\(p) y")
        (y * (try t("\(p)_gy"))).sum().backward()
        assertClose(grad(x), try t("\(p)_gx"), "\(p) gx")
        try checkParameterGrads(layer.parameters, p)
    }

    func testPostNormEncoderLayerWithPaddingMatchesPyTorch() throws {
        try encoderCase("enc_post", normFirst: false, activation: .relu, causal: false)
    }

    func testPreNormGeluCausalEncoderLayerMatchesPyTorch() throws {
        try encoderCase("enc_pre", normFirst: true, activation: .gelu, causal: true)
    }

    func decoderCase(_ p: String, normFirst: Bool, activation: TransformerOptions.Activation, targetMask: Bool) throws {
        var rng = SeededGenerator(seed: 0)
        let layer = TransformerDecoderLayer(options(normFirst: normFirst, activation: activation), rng: &rng)
        try load(layer.parameters, p)
        let x = try t("\(p)_x", grad: true), memory = try t("\(p)_memory", grad: true)
        let memoryKeep = try t("\(p)_memory_keep")
        let inputs = targetMask ? [x, try t("\(p)_keep"), memory, memoryKeep] : [x, memory, memoryKeep]
        let y = layer(inputs, ForwardContext(training: true))
        assertClose(y, try t("\(p)_y"), "\(p) y")
        (y * (try t("\(p)_gy"))).sum().backward()
        assertClose(grad(x), try t("\(p)_gx"), "\(p) gx")
        assertClose(grad(memory), try t("\(p)_gmemory"), "\(p) gmemory")
        try checkParameterGrads(layer.parameters, p)
    }

    func testPostNormDecoderLayerWithBothMasksMatchesPyTorch() throws {
        try decoderCase("dec_post", normFirst: false, activation: .relu, targetMask: true)
    }

    func testPreNormGeluDecoderLayerMatchesPyTorch() throws {
        try decoderCase("dec_pre", normFirst: true, activation: .gelu, targetMask: false)
    }

    func testAdditiveAttentionMatchesPyTorch() throws {
        var rng = SeededGenerator(seed: 0)
        let attn = AdditiveAttention(queryDim: 5, keyDim: 6, units: 7, bias: true, rng: &rng)
        try load(attn.parameters, "add")
        let q = try t("add_query", grad: true), memory = try t("add_memory", grad: true)
        let (context, weights) = attn.attend(query: q, memory: memory, mask: try t("add_keep"))
        assertClose(context, try t("add_context"), "context")
        assertClose(weights, try t("add_weights"), "weights")
        ((context * (try t("add_gy"))).sum() + (weights * (try t("add_gw"))).sum()).backward()
        assertClose(grad(q), try t("add_gquery"), "gquery")
        assertClose(grad(memory), try t("add_gmemory"), "gmemory")
        try checkParameterGrads(attn.parameters, "add")
    }
}
