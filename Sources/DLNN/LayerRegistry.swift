/// Builds a layer from its `model.json` node. `inputShapes` are the shapes
/// (without batch) of the node's inputs, so layers can size their weights
/// (e.g. in_channels) from the graph. `rng` initializes fresh weights.
///
/// Every layer type adds one case here; unknown types are an architecture
/// error naming the node.
public enum LayerRegistry {
    public static func make(_ spec: LayerSpec, inputShapes: [[Int]], rng: SeededGeneratorBox) throws -> Layer {
        switch spec.type {
        // <layer cases: keep one line per type, alphabetical>
        case "add": return Add()
        case "additive_attention": return try AdditiveAttention(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "avg_pool2d": return try AvgPool2D(spec: spec)
        case "batch_norm": return try BatchNorm(spec: spec, inputShapes: inputShapes)
        case "concat": return try Concat(spec: spec)
        case "conv2d": return try Conv2D(spec: spec, inputShapes: inputShapes, rng: rng)
        case "conv_transpose2d": return try ConvTranspose2D(spec: spec, inputShapes: inputShapes, rng: rng)
        case "dense": return try Linear(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "depthwise_separable": return try DepthwiseSeparable(spec: spec, inputShapes: inputShapes, rng: rng)
        case "dropout": return try Dropout(spec: spec)
        case "embedding": return try Embedding(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "flatten": return Flatten(spec: spec)
        case "global_avg_pool": return GlobalAvgPool(spec: spec)
        case "gru": return try Recurrent(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "inverted_residual": return try InvertedResidual(spec: spec, inputShapes: inputShapes, rng: rng)
        case "l2_normalize": return try L2Normalize(spec: spec)
        case "layer_norm": return try LayerNorm(spec: spec, inputShapes: inputShapes)
        case "leaky_relu": return try Activation(spec: spec)
        case "lstm": return try Recurrent(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "max_pool2d": return try MaxPool2D(spec: spec)
        case "multihead_attention": return try MultiheadAttention(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "positional_encoding": return try PositionalEncoding(spec: spec)
        case "relu": return try Activation(spec: spec)
        case "relu6": return try Activation(spec: spec)
        case "rnn": return try Recurrent(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "sequence_mask": return try SequenceMask(spec: spec)
        case "sequence_pool": return try SequencePool(spec: spec)
        case "sigmoid": return try Activation(spec: spec)
        case "softmax": return try Softmax(spec: spec)
        case "tanh": return try Activation(spec: spec)
        case "transformer_decoder_layer": return try TransformerDecoderLayer(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        case "transformer_encoder_layer": return try TransformerEncoderLayer(spec: spec, inputShapes: inputShapes, rng: &rng.rng)
        default:
            throw ModelError.architecture("layer '\(spec.name)': unknown type '\(spec.type)'")
        }
    }

    /// Every type name `make` knows, for error messages and docs.
    public static var knownTypes: [String] {
        [
            "add",
            "additive_attention",
            "avg_pool2d",
            "batch_norm",
            "concat",
            "conv2d",
            "conv_transpose2d",
            "dense",
            "depthwise_separable",
            "dropout",
            "embedding",
            "flatten",
            "global_avg_pool",
            "gru",
            "inverted_residual",
            "l2_normalize",
            "layer_norm",
            "leaky_relu",
            "lstm",
            "max_pool2d",
            "multihead_attention",
            "positional_encoding",
            "relu",
            "relu6",
            "rnn",
            "sequence_mask",
            "sequence_pool",
            "sigmoid",
            "softmax",
            "tanh",
            "transformer_decoder_layer",
            "transformer_encoder_layer",
        ]
    }
}

import DLTensor

/// A reference wrapper so builders can share one generator.
public final class SeededGeneratorBox {
    public var rng: SeededGenerator
    public init(seed: UInt64) { rng = SeededGenerator(seed: seed) }
}
