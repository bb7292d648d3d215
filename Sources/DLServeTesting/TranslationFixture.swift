import DLNN
import DLText
import Foundation

/// A tiny translation model for tests of the `translate` task: subwords
/// learned from a few English-Spanish sentences (shared vocabulary) and a
/// one-layer transformer with random weights (a few KB). It translates badly
/// but deterministically, which is all the serving path needs.
public enum TranslationFixture {
    public static let pairs: [(source: String, target: String)] = [
        ("the cat is big", "el gato es grande"), ("the dog is old", "el perro es viejo"),
        ("the sea is blue", "el mar es azul"), ("a red car", "un coche rojo"),
        ("the sun is new", "el sol es nuevo"), ("i see the sky", "veo el cielo"),
    ]

    public static func subwords() -> TranslationSubwords {
        TranslationSubwords.learn(pairs, shared: true, options: BPEOptions(merges: 40, byteFallback: false))
    }

    /// src/tgt transformer: embeddings, sinusoidal positions, one encoder
    /// and one decoder layer (2 heads of 4), logits over the target vocabulary.
    public static func spec(vocabulary v: Int, dim: Int = 8) -> ModelSpec {
        let t: [String: JSONValue] = ["num_heads": 2, "dim_feedforward": 16, "dropout": 0]
        let d = JSONValue(integerLiteral: dim), vocab = JSONValue(integerLiteral: v)
        return ModelSpec(
            inputs: [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")],
            layers: [
                LayerSpec(name: "src_mask", type: "sequence_mask", inputs: ["src"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "tgt_mask", type: "sequence_mask", inputs: ["tgt"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "src_embed", type: "embedding", inputs: ["src"], attrs: ["vocab_size": vocab, "dim": d, "padding_idx": 0]),
                LayerSpec(name: "src_pos", type: "positional_encoding", inputs: ["src_embed"]),
                LayerSpec(name: "memory", type: "transformer_encoder_layer", inputs: ["src_pos", "src_mask"], attrs: t),
                LayerSpec(name: "tgt_embed", type: "embedding", inputs: ["tgt"], attrs: ["vocab_size": vocab, "dim": d, "padding_idx": 0]),
                LayerSpec(name: "tgt_pos", type: "positional_encoding", inputs: ["tgt_embed"]),
                LayerSpec(name: "decoder", type: "transformer_decoder_layer", inputs: ["tgt_pos", "tgt_mask", "memory", "src_mask"], attrs: t),
                LayerSpec(name: "logits", type: "dense", inputs: ["decoder"], attrs: ["units": vocab]),
            ],
            outputs: ["logits"])
    }

    /// src/tgt RNN encoder-decoder: a bidirectional GRU encoder, a GRU decoder
    /// with additive attention over the encoder's outputs (the family of
    /// recipes/translate-en-es-rnn.json), logits over the target vocabulary.
    public static func recurrentSpec(vocabulary v: Int, dim: Int = 8) -> ModelSpec {
        let d = JSONValue(integerLiteral: dim), vocab = JSONValue(integerLiteral: v)
        return ModelSpec(
            inputs: [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")],
            layers: [
                LayerSpec(name: "src_mask", type: "sequence_mask", inputs: ["src"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "tgt_mask", type: "sequence_mask", inputs: ["tgt"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "src_embed", type: "embedding", inputs: ["src"], attrs: ["vocab_size": vocab, "dim": d, "padding_idx": 0]),
                LayerSpec(name: "encoder", type: "gru", inputs: ["src_embed", "src_mask"], attrs: ["hidden_size": d, "bidirectional": true]),
                LayerSpec(name: "tgt_embed", type: "embedding", inputs: ["tgt"], attrs: ["vocab_size": vocab, "dim": d, "padding_idx": 0]),
                LayerSpec(name: "decoder", type: "gru", inputs: ["tgt_embed", "tgt_mask"], attrs: ["hidden_size": d]),
                LayerSpec(name: "context", type: "additive_attention", inputs: ["decoder", "encoder", "src_mask"], attrs: ["units": d]),
                LayerSpec(name: "joined", type: "concat", inputs: ["decoder", "context"], attrs: ["axis": -1]),
                LayerSpec(name: "logits", type: "dense", inputs: ["joined"], attrs: ["units": vocab]),
            ],
            outputs: ["logits"])
    }

    /// The random-weight model for `subwords` (`recurrent`: the RNN family); `endless`: `<eos>` gets a
    /// logit bias of -1000, so every hypothesis runs to its max length (a
    /// slow model for deadline tests).
    public static func model(_ subwords: TranslationSubwords, seed: UInt64 = 7, endless: Bool = false,
                             recurrent: Bool = false) throws -> GraphModel {
        let v = subwords.target.model.count
        let model = try GraphModel(spec: recurrent ? recurrentSpec(vocabulary: v) : spec(vocabulary: v), seed: seed)
        if endless, let bias = model.namedParameters.first(where: { $0.name == "logits.bias" })?.tensor {
            bias.data[BPEModel.endID] = -1000
        }
        return model
    }

    /// Writes `name/config.json` (task translation, `max_length` source
    /// subwords) and publishes the model with its subwords as a new version.
    @discardableResult
    public static func publish(in repository: ModelRepository, name: String, maxLength: Int = 24, maxBatchSize: Int = 64,
                               maxQueueDelayMs: Double = 0, queueCapacity: Int = 16, timeoutMs: Int = 10_000, seed: UInt64 = 7,
                               endless: Bool = false, recurrent: Bool = false) throws -> Int {
        let subwords = subwords()
        let model = try model(subwords, seed: seed, endless: endless, recurrent: recurrent)
        try repository.writeConfig(ModelConfig(
            name: name, task: .translation, labels: [],
            input: .init(shape: [-1], text: .init(vocabulary: "bpe.vocab.txt", lowercase: false, maxLength: maxLength)),
            serving: .init(maxBatchSize: maxBatchSize, maxQueueDelayMs: maxQueueDelayMs, queueCapacity: queueCapacity,
                           timeoutMs: timeoutMs)))
        return try repository.publish(name: name) { dir in
            try model.save(to: dir)
            try subwords.write(to: dir)
        }
    }
}
