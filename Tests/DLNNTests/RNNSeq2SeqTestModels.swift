import DLNN
import DLTensor
import Foundation

extension Seq2Seq {
    /// src/tgt model of the RNN family (Luong-style placement, Bahdanau's
    /// additive score): embedding + bidirectional two-layer `cell` encoder
    /// with the source mask; target embedding + two-layer `cell` decoder with
    /// the target mask; `additive_attention` of the decoder outputs over the
    /// encoder outputs (with bias and the source mask); concat along the
    /// features, dense + tanh, dense head. All weights drawn at random.
    static func recurrentModel(cell: String, seed: UInt64 = 5) throws -> GraphModel {
        let model = try GraphModel(spec: recurrentSpec(cell: cell), seed: seed)
        var rng = SeededGenerator(seed: seed &+ 100)
        for (_, t) in model.namedParameters {
            for i in 0..<t.count { t.data[i] = 1.2 * rng.uniform() - 0.6 }
        }
        return model
    }

    static func recurrentSpec(cell: String) -> ModelSpec {
        let v = JSONValue(integerLiteral: vocab)
        return ModelSpec(
            inputs: [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")],
            layers: [
                LayerSpec(name: "src_mask", type: "sequence_mask", inputs: ["src"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "tgt_mask", type: "sequence_mask", inputs: ["tgt"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "src_embed", type: "embedding", inputs: ["src"], attrs: ["vocab_size": v, "dim": 6, "padding_idx": 0]),
                LayerSpec(name: "encoder", type: cell, inputs: ["src_embed", "src_mask"],
                          attrs: ["hidden_size": 5, "num_layers": 2, "bidirectional": true]),
                LayerSpec(name: "tgt_embed", type: "embedding", inputs: ["tgt"], attrs: ["vocab_size": v, "dim": 6, "padding_idx": 0]),
                LayerSpec(name: "tgt_drop", type: "dropout", inputs: ["tgt_embed"], attrs: ["keep_prob": 0.9]),
                LayerSpec(name: "decoder", type: cell, inputs: ["tgt_drop", "tgt_mask"], attrs: ["hidden_size": 7, "num_layers": 2]),
                LayerSpec(name: "context", type: "additive_attention", inputs: ["decoder", "encoder", "src_mask"],
                          attrs: ["units": 4, "bias": true]),
                LayerSpec(name: "joined", type: "concat", inputs: ["decoder", "context"], attrs: ["axis": -1]),
                LayerSpec(name: "attentional", type: "dense", inputs: ["joined"], attrs: ["units": 8]),
                LayerSpec(name: "attentional_tanh", type: "tanh", inputs: ["attentional"]),
                LayerSpec(name: "logits", type: "dense", inputs: ["attentional_tanh"], attrs: ["units": v]),
            ],
            outputs: ["logits"])
    }
}
