import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Scaled dot-product attention, multi-head attention and the sinusoidal
/// positional encoding: PyTorch 2.13 values (`F.scaled_dot_product_attention`,
/// `nn.MultiheadAttention(batch_first=True)` loaded by state-dict name) from
/// scripts/fixtures/seqops_fixtures.py within 1e-4, finite-difference
/// gradients, hand-derived cases and the model.json wiring.
final class AttentionTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "seqops", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    func t(_ name: String, grad: Bool = false) throws -> Tensor {
        let x = try XCTUnwrap(f[name], name)
        return Tensor(shape: x.shape, data: x.data, requiresGrad: grad)
    }

    func grad(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.grad ?? []) }

    func testScaledDotProductAttentionMatchesPyTorch() throws {
        let q = try t("sdpa_q", grad: true), k = try t("sdpa_k", grad: true), v = try t("sdpa_v", grad: true)
        let y = scaledDotProductAttention(query: q, key: k, value: v, keep: try t("sdpa_keep"))
        assertClose(y, try t("sdpa_y"))
        (y * (try t("sdpa_gy"))).sum().backward()
        assertClose(grad(q), try t("sdpa_gq"))
        assertClose(grad(k), try t("sdpa_gk"))
        assertClose(grad(v), try t("sdpa_gv"))
    }

    func testScaledDotProductAttentionHandDerived() {
        // One query, two keys with scores q.k / sqrt(2) = [0, ln 3] -> weights
        // [1/4, 3/4]; output = 1/4 [4, 0] + 3/4 [0, 8] = [1, 6]. With the
        // second key masked the output is the first value; with both masked, 0.
        let l3 = Float(log(3.0)) * Float(2.0).squareRoot()
        let q = Tensor(shape: [1, 1, 2], data: [1, 0]), k = Tensor(shape: [1, 2, 2], data: [0, 5, l3, 5])
        let v = Tensor(shape: [1, 2, 2], data: [4, 0, 0, 8])
        assertClose(scaledDotProductAttention(query: q, key: k, value: v).data, [1, 6], rtol: 1e-5, atol: 1e-5)
        let first = Tensor(shape: [1, 1, 2], data: [1, 0]), none = Tensor(zeros: [1, 1, 2])
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, keep: first).data, [4, 0], rtol: 1e-6, atol: 1e-6)
        XCTAssertEqual(scaledDotProductAttention(query: q, key: k, value: v, keep: none).data, [0, 0])
    }

    func testScaledDotProductAttentionGradients() {
        var rng = SeededGenerator(seed: 31)
        let q = Tensor.normal([2, 2, 3, 4], std: 1, rng: &rng), k = Tensor.normal([2, 2, 5, 4], std: 1, rng: &rng)
        let v = Tensor.normal([2, 2, 5, 3], std: 1, rng: &rng), w = Tensor.normal([2, 2, 3, 3], std: 1, rng: &rng)
        let keep = Tensor(shape: [2, 1, 1, 5], data: [1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
        let f = { (scaledDotProductAttention(query: q, key: k, value: v, keep: keep) * w).sum() }
        assertGradient(q, "sdpa q", f)
        assertGradient(k, "sdpa k", f)
        assertGradient(v, "sdpa v", f)
    }

    /// A layer with the fixture's parameters, loaded by PyTorch state-dict name.
    func loadedMHA(_ p: String, causal: Bool) throws -> MultiheadAttention {
        var rng = SeededGenerator(seed: 0)
        let mha = MultiheadAttention(embedDim: 8, numHeads: 2, causal: causal, rng: &rng)
        XCTAssertEqual(mha.parameters.map(\.name), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        for (name, param) in mha.parameters {
            let w = try t("\(p)_\(name)")
            XCTAssertEqual(param.shape, w.shape, name)
            param.data = w.data
        }
        return mha
    }

    func checkParameterGrads(_ mha: MultiheadAttention, _ p: String) throws {
        for (name, param) in mha.parameters {
            assertClose(Tensor(shape: param.shape, data: param.grad ?? []), try t("\(p)_grad_\(name)"), "\(p) grad \(name)")
        }
    }

    func testSelfAttentionWithPaddingAndCausalMaskMatchesPyTorch() throws {
        let mha = try loadedMHA("mha_self", causal: true)
        let x = try t("mha_self_query", grad: true)
        let y = mha([x, try t("mha_self_keep")], ForwardContext(training: true))
        assertClose(y, try t("mha_self_y"))
        (y * (try t("mha_self_gy"))).sum().backward()
        assertClose(grad(x), try t("mha_self_gquery"))
        try checkParameterGrads(mha, "mha_self")
    }

    func testCrossAttentionMatchesPyTorch() throws {
        let mha = try loadedMHA("mha_cross", causal: false)
        let q = try t("mha_cross_query", grad: true), memory = try t("mha_cross_memory", grad: true)
        let y = mha([q, memory, try t("mha_cross_keep")], ForwardContext(training: true))
        assertClose(y, try t("mha_cross_y"))
        (y * (try t("mha_cross_gy"))).sum().backward()
        assertClose(grad(q), try t("mha_cross_gquery"))
        assertClose(grad(memory), try t("mha_cross_gmemory"))
        try checkParameterGrads(mha, "mha_cross")
    }

    func testMultiheadAttentionGradients() {
        var rng = SeededGenerator(seed: 32)
        let mha = MultiheadAttention(embedDim: 6, numHeads: 3, causal: true, rng: &rng)
        for (_, p) in mha.parameters { p.data = p.data.map { $0 + 0.1 * rng.normal() } }
        let x = Tensor.normal([2, 4, 6], std: 1, rng: &rng), w = Tensor.normal([2, 4, 6], std: 1, rng: &rng)
        let mask = Tensor(shape: [2, 4], data: [1, 1, 1, 1, 1, 1, 1, 0])
        let f = { (mha([x, mask], ForwardContext(training: true)) * w).sum() }
        assertGradient(x, "mha x", f)
        for (name, p) in mha.parameters { assertGradient(p, "mha \(name)", f) }
    }

    func testAttentionDropoutOnlyInTraining() {
        var rng = SeededGenerator(seed: 33)
        let mha = MultiheadAttention(embedDim: 4, numHeads: 2, dropout: 0.5, rng: &rng)
        let plain = MultiheadAttention(embedDim: 4, numHeads: 2, rng: &rng)
        for ((_, a), (_, b)) in zip(plain.parameters, mha.parameters) { a.data = b.data }
        let x = Tensor.normal([1, 6, 4], std: 1, rng: &rng)
        assertClose(mha([x], .inference()), plain([x], .inference()))
        let trained = mha([x], ForwardContext(training: true, seed: 5)).data
        XCTAssertNotEqual(trained, plain([x], ForwardContext(training: true)).data)
        // The same seed drops the same weights.
        XCTAssertEqual(trained, mha([x], ForwardContext(training: true, seed: 5)).data)
    }

    func testQueryWithNoKeyGetsTheOutputBias() {
        var rng = SeededGenerator(seed: 34)
        let mha = MultiheadAttention(embedDim: 4, numHeads: 1, rng: &rng)
        mha.outProj.bias!.data = [1, 2, 3, 4]
        let x = Tensor.normal([1, 2, 4], std: 1, rng: &rng)
        let y = mha([x, Tensor(zeros: [1, 2])], .inference())
        XCTAssertEqual(y.data, [1, 2, 3, 4, 1, 2, 3, 4])
    }

    func testPositionalEncodingMatchesTutorial() throws {
        assertClose(PositionalEncoding.table(length: 6, dim: 8), try t("pe_6x8"), rtol: 1e-5, atol: 1e-6)
        // x [N, T, E] + PE; scale_input multiplies x by sqrt(E) first.
        let x = Tensor(repeating: 1, shape: [2, 6, 8])
        let pe = try t("pe_6x8")
        assertClose(PositionalEncoding()(x, .inference()), x + pe)
        assertClose(PositionalEncoding(scaleInput: true)(x, .inference()), x.scaled(by: Float(8).squareRoot()) + pe)
        XCTAssertEqual(PositionalEncoding.table(length: 2, dim: 3).data, [0, 1, 0, Float(sin(1.0)), Float(cos(1.0)), Float(sin(1.0 / pow(10000.0, 2.0 / 3.0)))])
    }

    func testTransformerEncoderBlockFromModelJSON() throws {
        let spec = ModelSpec(inputShape: [-1], layers: [
            LayerSpec(name: "mask", type: "sequence_mask", inputs: ["input"], attrs: ["padding_idx": 0]),
            LayerSpec(name: "embed", type: "embedding", inputs: ["input"], attrs: ["vocab_size": 11, "dim": 8, "padding_idx": 0]),
            LayerSpec(name: "pos", type: "positional_encoding", inputs: ["embed"], attrs: ["scale_input": true]),
            LayerSpec(name: "attn", type: "multihead_attention", inputs: ["pos", "mask"], attrs: ["num_heads": 2, "causal": true]),
            LayerSpec(name: "res", type: "add", inputs: ["pos", "attn"]),
            LayerSpec(name: "norm", type: "layer_norm", inputs: ["res"]),
        ])
        let model = try GraphModel(spec: spec, seed: 3)
        XCTAssertEqual(model.outputShape, [-1, 8])
        let names = model.namedParameters.map(\.0)
        for p in ["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"] {
            XCTAssertTrue(names.contains(p), p)
        }
        let ids = Tensor(shape: [2, 5], data: [3, 4, 5, 6, 7, 8, 9, 0, 0, 0])
        let y = model(ids, ForwardContext(training: true))
        XCTAssertEqual(y.shape, [2, 5, 8])
        XCTAssertTrue(y.data.allSatisfy { $0.isFinite })
        y.squared().mean().backward()
        XCTAssertNotNil(model.namedParameters.first { $0.0 == "attn.in_proj_weight" }?.1.grad)
        // A bad head count is an architecture error naming the node.
        var bad = spec
        bad.layers[3].attrs["num_heads"] = 3
        XCTAssertThrowsError(try GraphModel(spec: bad))
    }
}
