import DLNN
import DLTensor
import DLTrain
import XCTest

/// A one-layer transformer encoder-decoder (model.json with "src" and "tgt"
/// inputs) learns to reverse short random token sequences with teacher
/// forcing, sequenceCrossEntropy and Adam; greedy decoding then reverses
/// held-out sequences (about 12 s). Measured at this seed: last-50 mean loss
/// ~0.02, teacher-forced token accuracy 0.99, greedy 31 of 32.
///
/// The embeddings are not scaled by sqrt(d_model) before the positional
/// encoding: they start N(0, 1), so the scaling drowns the positions that
/// reversal depends on (with it, 1,000 steps reached 0.84 token accuracy).
final class TransformerConvergenceTests: XCTestCase {
    // Ids: 0 padding, 1 start, 2 end, 3..<vocab the tokens.
    let vocab = 10, pad: Float = 0, bos: Float = 1, eos: Float = 2

    func spec() -> ModelSpec {
        let attrs: [String: JSONValue] = ["num_heads": 4, "dim_feedforward": 64, "dropout": 0]
        return ModelSpec(
            inputs: [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")],
            layers: [
                LayerSpec(name: "src_mask", type: "sequence_mask", inputs: ["src"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "tgt_mask", type: "sequence_mask", inputs: ["tgt"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "src_embed", type: "embedding", inputs: ["src"], attrs: ["vocab_size": JSONValue(integerLiteral: vocab), "dim": 32, "padding_idx": 0]),
                LayerSpec(name: "src_pos", type: "positional_encoding", inputs: ["src_embed"], attrs: ["scale_input": false]),
                LayerSpec(name: "memory", type: "transformer_encoder_layer", inputs: ["src_pos", "src_mask"], attrs: attrs),
                LayerSpec(name: "tgt_embed", type: "embedding", inputs: ["tgt"], attrs: ["vocab_size": JSONValue(integerLiteral: vocab), "dim": 32, "padding_idx": 0]),
                LayerSpec(name: "tgt_pos", type: "positional_encoding", inputs: ["tgt_embed"], attrs: ["scale_input": false]),
                LayerSpec(name: "decoder", type: "transformer_decoder_layer", inputs: ["tgt_pos", "tgt_mask", "memory", "src_mask"], attrs: attrs),
                LayerSpec(name: "logits", type: "dense", inputs: ["decoder"], attrs: ["units": JSONValue(integerLiteral: vocab)]),
            ],
            outputs: ["logits"])
    }

    /// A padded batch: src = tokens, tgt in = [start] + reversed, tgt out = reversed + [end].
    func batch(_ n: Int, _ rng: inout SeededGenerator) -> (src: Tensor, tgtIn: Tensor, tgtOut: Tensor, seqs: [[Float]]) {
        let seqs: [[Float]] = (0..<n).map { _ in
            (0..<(3 + Int(rng.next() % 4))).map { _ in Float(3 + Int(rng.next() % UInt64(vocab - 3))) }
        }
        let s = seqs.map(\.count).max()!, t = s + 1
        var src = [Float](repeating: pad, count: n * s), tin = [Float](repeating: pad, count: n * t), tout = tin
        for (i, q) in seqs.enumerated() {
            let r = Array(q.reversed())
            for j in 0..<q.count { src[i * s + j] = q[j]; tin[i * t + j + 1] = r[j]; tout[i * t + j] = r[j] }
            tin[i * t] = bos
            tout[i * t + q.count] = eos
        }
        return (Tensor(shape: [n, s], data: src), Tensor(shape: [n, t], data: tin), Tensor(shape: [n, t], data: tout), seqs)
    }

    func testOneLayerTransformerLearnsToReverseSequences() throws {
        let model = try GraphModel(spec: spec(), seed: 3)
        // Adam with the transformer paper's betas, a 50-step linear warm-up, clipping at norm 1.
        let lr: Float = 3e-3
        let optimizer = Optimizer(rule: Adam(beta1: 0.9, beta2: 0.98, eps: 1e-9), learningRate: lr, clipNorm: 1)
        var rng = SeededGenerator(seed: 11)
        var losses: [Float] = []
        for step in 0..<800 {
            let b = batch(32, &rng)
            optimizer.learningRate = lr * min(1, Float(step + 1) / 50)
            let logits = model(inputs: ["src": b.src, "tgt": b.tgtIn], ForwardContext(training: true))["logits"]!
            let l = sequenceCrossEntropy(logits: logits, targets: b.tgtOut, ignoreIndex: 0)
            l.backward()
            _ = optimizer.step(model.namedParameters)
            losses.append(l.scalar)
        }
        let loss = losses.suffix(50).reduce(0, +) / 50
        XCTAssertLessThan(loss, 0.1, "mean training loss of the last 50 steps")

        // Held-out sequences, teacher forced: token accuracy over real target tokens.
        let test = batch(64, &rng)
        let logits = model.infer(inputs: ["src": test.src, "tgt": test.tgtIn])["logits"]!
        let predicted = logits.argmaxLastAxis()
        var right = 0, total = 0
        for i in 0..<test.tgtOut.count where test.tgtOut.data[i] != pad {
            total += 1
            if Float(predicted[i]) == test.tgtOut.data[i] { right += 1 }
        }
        let accuracy = Double(right) / Double(total)
        XCTAssertGreaterThanOrEqual(accuracy, 0.97, "teacher-forced token accuracy")

        // Greedy decoding (the prefix recomputed at each step): whole sequences reversed.
        var exact = 0
        for q in test.seqs.prefix(32) {
            let src = Tensor(shape: [1, q.count], data: q)
            var out: [Float] = [bos]
            while out.count <= q.count + 1 {
                let l = model.infer(inputs: ["src": src, "tgt": Tensor(shape: [1, out.count], data: out)])["logits"]!
                let next = Float(l.argmaxLastAxis().last!)
                if next == eos { break }
                out.append(next)
            }
            if Array(out.dropFirst()) == Array(q.reversed()) { exact += 1 }
        }
        XCTAssertGreaterThanOrEqual(exact, 28, "greedy decoding reversed \(exact) of 32 held-out sequences")
        print("reverse task: loss \(loss), teacher-forced token accuracy \(accuracy), greedy exact \(exact)/32")
    }
}
