import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Finite-difference gradients of the transformer layers and additive
/// attention (every input and parameter), hand-derived additive attention,
/// step-by-step decoding against the whole sequence, and the model.json wiring.
final class TransformerTests: XCTestCase {
    /// GELU keeps the checks away from ReLU's kink (ReLU is covered by the
    /// PyTorch fixtures); layer norm divides by a standard deviation, so the
    /// inputs are O(1) and epsilon 1e-2.
    func smallOptions(normFirst: Bool) -> TransformerOptions {
        TransformerOptions(dModel: 4, numHeads: 2, dimFeedforward: 6, dropout: 0, activation: .gelu, normFirst: normFirst)
    }

    func perturb(_ parameters: [(name: String, tensor: Tensor)], _ rng: inout SeededGenerator) {
        for (_, p) in parameters { p.data = p.data.map { $0 + 0.1 * rng.normal() } }
    }

    func testEncoderLayerGradients() {
        for normFirst in [false, true] {
            var rng = SeededGenerator(seed: 41)
            let layer = TransformerEncoderLayer(smallOptions(normFirst: normFirst), causal: normFirst, rng: &rng)
            perturb(layer.parameters, &rng)
            let x = Tensor.normal([2, 3, 4], std: 1, rng: &rng), w = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
            let mask = Tensor(shape: [2, 3], data: [1, 1, 1, 1, 1, 0])
            let f = { (layer([x, mask], ForwardContext(training: true)) * w).sum() }
            assertGradient(x, "encoder (norm_first \(normFirst)) x", f)
            for (name, p) in layer.parameters { assertGradient(p, "encoder (norm_first \(normFirst)) \(name)", f) }
        }
    }

    func testDecoderLayerGradients() {
        for normFirst in [false, true] {
            var rng = SeededGenerator(seed: 42)
            let layer = TransformerDecoderLayer(smallOptions(normFirst: normFirst), rng: &rng)
            perturb(layer.parameters, &rng)
            let x = Tensor.normal([2, 3, 4], std: 1, rng: &rng), w = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
            let memory = Tensor.normal([2, 4, 4], std: 1, rng: &rng)
            let memoryMask = Tensor(shape: [2, 4], data: [1, 1, 1, 1, 1, 1, 0, 0])
            let f = { (layer([x, memory, memoryMask], ForwardContext(training: true)) * w).sum() }
            assertGradient(x, "decoder (norm_first \(normFirst)) x", f)
            assertGradient(memory, "decoder (norm_first \(normFirst)) memory", f)
            for (name, p) in layer.parameters { assertGradient(p, "decoder (norm_first \(normFirst)) \(name)", f) }
        }
    }

    func testAdditiveAttentionGradients() {
        var rng = SeededGenerator(seed: 43)
        let attn = AdditiveAttention(queryDim: 3, keyDim: 4, units: 5, bias: true, rng: &rng)
        perturb(attn.parameters, &rng)
        let q = Tensor.normal([2, 3, 3], std: 1, rng: &rng), memory = Tensor.normal([2, 4, 4], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
        let mask = Tensor(shape: [2, 4], data: [1, 1, 1, 1, 1, 1, 0, 0])
        let f = { (attn.attend(query: q, memory: memory, mask: mask).context * w).sum() }
        assertGradient(q, "additive query", f)
        assertGradient(memory, "additive memory", f)
        for (name, p) in attn.parameters { assertGradient(p, "additive \(name)", f) }
    }

    func testAdditiveAttentionHandDerived() {
        // With W_a = U_a = 0 every score is v^T tanh(0) = 0, so the weights are
        // uniform over the real tokens: the context is their mean,
        // [(1 + 3) / 2, (2 + 4) / 2] = [2, 3], padding (100s) ignored.
        var rng = SeededGenerator(seed: 44)
        let attn = AdditiveAttention(queryDim: 2, keyDim: 2, units: 3, rng: &rng)
        attn.queryProj.weight.data = [Float](repeating: 0, count: 6)
        attn.keyProj.weight.data = [Float](repeating: 0, count: 6)
        let memory = Tensor(shape: [1, 3, 2], data: [1, 2, 3, 4, 100, 100])
        let r = attn.step(state: Tensor(shape: [1, 2], data: [5, -5]), memory: memory, mask: Tensor(shape: [1, 3], data: [1, 1, 0]))
        XCTAssertEqual(r.context.shape, [1, 2])
        assertClose(r.context.data, [2, 3], rtol: 1e-6, atol: 1e-6)
        assertClose(r.weights.data, [0.5, 0.5, 0], rtol: 1e-6, atol: 1e-6)
        // e_j = v tanh(u h_j) with one unit, v = 1, u = [1, 0], no query term:
        // e = [tanh 1, tanh 3], alpha_1 = 1 / (1 + exp(tanh 3 - tanh 1)).
        let one = AdditiveAttention(queryDim: 1, keyDim: 2, units: 1, rng: &rng)
        one.queryProj.weight.data = [0]; one.keyProj.weight.data = [1, 0]; one.v.weight.data = [1]
        let w = one.step(state: Tensor(shape: [1, 1], data: [7]), memory: Tensor(shape: [1, 2, 2], data: [1, 0, 3, 0]), mask: nil).weights
        let a1 = Float(1 / (1 + exp(tanh(3.0) - tanh(1.0))))
        assertClose(w.data, [a1, 1 - a1], rtol: 1e-6, atol: 1e-6)
    }

    func testAdditiveAttentionStepsMatchTheWholeSequence() {
        var rng = SeededGenerator(seed: 45)
        let attn = AdditiveAttention(queryDim: 3, keyDim: 4, units: 5, rng: &rng)
        let q = Tensor.normal([2, 3, 3], std: 1, rng: &rng), memory = Tensor.normal([2, 4, 4], std: 1, rng: &rng)
        let mask = Tensor(shape: [2, 4], data: [1, 1, 1, 1, 1, 0, 0, 0])
        let whole = attn.attend(query: q, memory: memory, mask: mask)
        let keys = attn.projectKeys(memory)
        for t in 0..<3 {
            let s = q.slice(axis: 1, start: t, length: 1).reshaped([2, 3])
            let step = attn.step(state: s, memory: memory, mask: mask, projectedKeys: keys)
            assertClose(step.context, whole.context.slice(axis: 1, start: t, length: 1).reshaped([2, 4]), rtol: 1e-6, atol: 1e-6)
            assertClose(step.weights, whole.weights.slice(axis: 1, start: t, length: 1).reshaped([2, 4]), rtol: 1e-6, atol: 1e-6)
        }
    }

    func testDecoderLayerIsCausal() {
        // Changing the last target position leaves the earlier outputs unchanged.
        var rng = SeededGenerator(seed: 46)
        let layer = TransformerDecoderLayer(smallOptions(normFirst: false), rng: &rng)
        let x = Tensor.normal([1, 3, 4], std: 1, rng: &rng), memory = Tensor.normal([1, 2, 4], std: 1, rng: &rng)
        let y = layer([x, memory], .inference())
        var changed = x.data
        for j in 8..<12 { changed[j] += 1 }
        let y2 = layer([Tensor(shape: x.shape, data: changed), memory], .inference())
        assertClose(Array(y2.data[0..<8]), Array(y.data[0..<8]), rtol: 1e-6, atol: 1e-6)
        XCTAssertNotEqual(Array(y2.data[8...]), Array(y.data[8...]))
    }

    func testDropoutOnlyInTraining() {
        var rng = SeededGenerator(seed: 47)
        let o = TransformerOptions(dModel: 4, numHeads: 2, dimFeedforward: 6, dropout: 0.3)
        let layer = TransformerEncoderLayer(o, rng: &rng)
        let x = Tensor.normal([1, 5, 4], std: 1, rng: &rng)
        XCTAssertEqual(layer([x], .inference()).data, layer([x], .inference()).data)
        XCTAssertNotEqual(layer([x], ForwardContext(training: true, seed: 1)).data, layer([x], .inference()).data)
    }

    func testLayersFromModelJSON() throws {
        let spec = ModelSpec(inputShape: [-1, 8], layers: [
            LayerSpec(name: "enc", type: "transformer_encoder_layer", inputs: ["input"],
                      attrs: ["num_heads": 2, "dim_feedforward": 16, "activation": "gelu", "norm_first": true]),
            LayerSpec(name: "dec", type: "transformer_decoder_layer", inputs: ["input", "enc"], attrs: ["num_heads": 2, "dim_feedforward": 16]),
            LayerSpec(name: "att", type: "additive_attention", inputs: ["dec", "enc"], attrs: ["units": 5]),
            LayerSpec(name: "out", type: "dense", inputs: ["att"], attrs: ["units": 3]),
        ])
        let model = try GraphModel(spec: spec, seed: 1)
        XCTAssertEqual(model.shapes["dec"], [-1, 8])
        XCTAssertEqual(model.outputShape, [-1, 3])
        let names = Set(model.namedParameters.map(\.name))
        for p in ["enc.self_attn.in_proj_weight", "enc.linear1.weight", "enc.norm2.bias", "dec.multihead_attn.out_proj.weight",
                  "dec.norm3.weight", "att.query_proj.weight", "att.key_proj.weight", "att.v.weight"] {
            XCTAssertTrue(names.contains(p), p)
        }
        var rng = SeededGenerator(seed: 99)
        XCTAssertEqual(model.infer(Tensor.normal([2, 5, 8], std: 1, rng: &rng)).shape, [2, 5, 3])
        // Bad attributes are architecture errors naming the node.
        for (attr, value) in [("num_heads", JSONValue(3)), ("activation", "swish"), ("dropout", 1.5)] {
            var bad = spec
            bad.layers[0].attrs[attr] = value
            XCTAssertThrowsError(try GraphModel(spec: bad)) { XCTAssertTrue("\($0)".contains("'enc'"), "\($0)") }
        }
        var wrong = spec
        wrong.layers[1].inputs = ["input"]
        XCTAssertThrowsError(try GraphModel(spec: wrong))
    }
}
