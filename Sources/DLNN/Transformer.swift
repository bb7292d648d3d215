import DLTensor
import Foundation

/// The options the transformer layers share, PyTorch's constructor arguments
/// of `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer` (with
/// `batch_first=True`): d_model (the input's last axis), `num_heads` (nhead),
/// `dim_feedforward` (default 2048), `dropout` (PyTorch's drop probability,
/// default 0.1, used after attention, inside and after the feed-forward
/// block, and on the attention weights), `activation` ("relu" or "gelu"),
/// `layer_norm_eps` (1e-5), `norm_first` (false: post-norm as in Vaswani et
/// al.; true: pre-norm) and `bias` (true).
public struct TransformerOptions: Equatable, Sendable {
    public enum Activation: String, CaseIterable, Sendable { case relu, gelu }

    public var dModel: Int
    public var numHeads: Int
    public var dimFeedforward: Int = 2048
    public var dropout: Float = 0.1
    public var activation: Activation = .relu
    public var layerNormEps: Float = 1e-5
    public var normFirst: Bool = false
    public var bias: Bool = true

    public init(dModel: Int, numHeads: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                activation: Activation = .relu, layerNormEps: Float = 1e-5, normFirst: Bool = false, bias: Bool = true) {
        precondition(dModel > 0 && numHeads > 0 && dModel % numHeads == 0 && dimFeedforward > 0,
                     "TransformerOptions: d_model \(dModel) must be a positive multiple of num_heads \(numHeads), dim_feedforward \(dimFeedforward) positive")
        precondition(dropout >= 0 && dropout < 1, "TransformerOptions: dropout \(dropout) outside [0, 1)")
        (self.dModel, self.numHeads, self.dimFeedforward, self.dropout) = (dModel, numHeads, dimFeedforward, dropout)
        (self.activation, self.layerNormEps, self.normFirst, self.bias) = (activation, layerNormEps, normFirst, bias)
    }

    /// From a model.json node whose first input is a sequence [T, d_model].
    init(spec: LayerSpec, inputShapes: [[Int]]) throws {
        guard let first = inputShapes.first, first.count == 2, first[1] > 0 else {
            throw ModelError.shape("\(spec.type) '\(spec.name)' takes a sequence [T, d_model] first, got \(inputShapes)")
        }
        let e = first[1], heads = try spec.int("num_heads"), ff = try spec.int("dim_feedforward", default: 2048)
        guard heads > 0, e % heads == 0, ff > 0 else {
            throw ModelError.architecture("\(spec.type) '\(spec.name)': d_model \(e) must be a multiple of num_heads \(heads), dim_feedforward \(ff) positive")
        }
        if spec.attr("d_model") != nil, try spec.int("d_model") != e {
            throw ModelError.shape("\(spec.type) '\(spec.name)': d_model \(try spec.int("d_model")) but the input has \(e) features")
        }
        let p = try spec.float("dropout", default: 0.1)
        guard p >= 0 && p < 1 else { throw ModelError.architecture("\(spec.type) '\(spec.name)': dropout \(p) outside [0, 1)") }
        let a = try spec.string("activation", default: "relu")
        guard let act = Activation(rawValue: a) else {
            throw ModelError.architecture("\(spec.type) '\(spec.name)': activation '\(a)' is not one of \(Activation.allCases.map(\.rawValue))")
        }
        self.init(dModel: e, numHeads: heads, dimFeedforward: ff, dropout: p, activation: act,
                  layerNormEps: try spec.float("layer_norm_eps", default: 1e-5),
                  normFirst: try spec.bool("norm_first", default: false), bias: try spec.bool("bias", default: true))
    }
}

/// The position-wise feed-forward block of both layers, PyTorch's `_ff_block`:
/// linear2(dropout(activation(linear1(x)))), x [..., E] -> [..., E].
/// Public so a step-by-step decoder can run a layer's pieces itself.
public final class FeedForward {
    public let linear1: Linear
    public let linear2: Linear
    public let activation: TransformerOptions.Activation
    let dropout: Dropout

    /// nn.Linear's initialisation: weight and bias uniform in +-1/sqrt(in).
    init(_ o: TransformerOptions, rng: inout SeededGenerator) {
        func linear(_ inF: Int, _ outF: Int) -> Linear {
            let b = 1 / Foundation.sqrt(Float(inF))
            let w = Tensor.uniform([outF, inF], low: -b, high: b, rng: &rng)
            w.requiresGrad = true
            let bias = o.bias ? Tensor.uniform([outF], low: -b, high: b, rng: &rng) : nil
            bias?.requiresGrad = true
            return Linear(weight: w, bias: bias)
        }
        linear1 = linear(o.dModel, o.dimFeedforward)
        linear2 = linear(o.dimFeedforward, o.dModel)
        activation = o.activation
        dropout = Dropout(keepProb: 1 - o.dropout)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("linear1", linear1.parameters) + prefixed("linear2", linear2.parameters)
    }

    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let h = linear1(x, ctx)
        return linear2(dropout(activation == .relu ? h.relu() : h.gelu(), ctx), ctx)
    }
}

/// One transformer encoder layer (Vaswani et al., 2017), PyTorch's
/// `nn.TransformerEncoderLayer(batch_first=True)` with its state-dict names:
/// self_attn.{in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias},
/// linear1.*, linear2.*, norm1.*, norm2.*.
///
/// Post-norm: x = norm1(x + dropout1(self_attn(x))); x = norm2(x + dropout2(ff(x))).
/// Pre-norm (`norm_first`): x = x + dropout1(self_attn(norm1(x))); x = x + dropout2(ff(norm2(x))).
///
/// model.json: `{"type": "transformer_encoder_layer", "inputs": ["x", "mask"],
/// "attrs": {"num_heads": 4, "dim_feedforward": 256, "dropout": 0.1,
/// "activation": "relu", "norm_first": false, "causal": false}}`; inputs [x]
/// or [x, mask] with the key mask [T] (1 = real token, PyTorch's
/// `src_key_padding_mask` negated). `causal` is PyTorch's square subsequent
/// `src_mask`.
public final class TransformerEncoderLayer: Layer {
    public let options: TransformerOptions
    public let selfAttn: MultiheadAttention
    public let feedForward: FeedForward
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    let dropout1: Dropout
    let dropout2: Dropout

    public init(_ o: TransformerOptions, causal: Bool = false, rng: inout SeededGenerator) {
        options = o
        selfAttn = MultiheadAttention(embedDim: o.dModel, numHeads: o.numHeads, bias: o.bias, causal: causal,
                                      dropout: o.dropout, rng: &rng)
        feedForward = FeedForward(o, rng: &rng)
        norm1 = LayerNorm(features: o.dModel, eps: o.layerNormEps)
        norm2 = LayerNorm(features: o.dModel, eps: o.layerNormEps)
        dropout1 = Dropout(keepProb: 1 - o.dropout)
        dropout2 = Dropout(keepProb: 1 - o.dropout)
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        self.init(try TransformerOptions(spec: spec, inputShapes: inputShapes), causal: try spec.bool("causal", default: false), rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("self_attn", selfAttn.parameters) + feedForward.parameters
            + prefixed("norm1", norm1.parameters) + prefixed("norm2", norm2.parameters)
    }

    /// [T, E] -> [T, E]; [T, E], [T] -> [T, E].
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 || inputShapes.count == 2 else {
            throw ModelError.shape("transformer_encoder_layer takes [T, E] and optionally its mask [T], got \(inputShapes)")
        }
        return try selfAttn.outputShape(inputShapes)
    }

    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(inputs.count == 1 || inputs.count == 2, "transformer_encoder_layer: expects 1 or 2 inputs, got \(inputs.count)")
        return self(inputs[0], mask: inputs.count == 2 ? inputs[1] : nil, ctx)
    }

    /// x [N, T, E], mask [N, T] (1 = real token) or nil -> [N, T, E].
    public func callAsFunction(_ x: Tensor, mask: Tensor?, _ ctx: ForwardContext) -> Tensor {
        func sa(_ h: Tensor) -> Tensor { dropout1(selfAttn(query: h, keyValue: nil, keyMask: mask, ctx), ctx) }
        func ff(_ h: Tensor) -> Tensor { dropout2(feedForward(h, ctx), ctx) }
        if options.normFirst {
            let h = x + sa(norm1(x, ctx))
            return h + ff(norm2(h, ctx))
        }
        let h = norm1(x + sa(x), ctx)
        return norm2(h + ff(h), ctx)
    }
}

/// One transformer decoder layer (Vaswani et al., 2017), PyTorch's
/// `nn.TransformerDecoderLayer(batch_first=True)` with its state-dict names:
/// self_attn.*, multihead_attn.* (cross-attention on the memory), linear1.*,
/// linear2.*, norm1.*, norm2.*, norm3.*.
///
/// Post-norm: x = norm1(x + dropout1(self_attn(x))); x = norm2(x +
/// dropout2(multihead_attn(x, memory))); x = norm3(x + dropout3(ff(x))).
/// Pre-norm (`norm_first`) normalises each sub-layer's input instead.
///
/// model.json: `{"type": "transformer_decoder_layer", "inputs": ["y", "memory", "memory_mask"],
/// "attrs": {"num_heads": 4, "dim_feedforward": 256, "causal": true, ...}}`;
/// inputs [x, memory], [x, memory, memory_mask] or [x, x_mask, memory,
/// memory_mask], masks 1 = real token (PyTorch's `tgt_key_padding_mask` and
/// `memory_key_padding_mask` negated). `causal` (default true) is PyTorch's
/// square subsequent `tgt_mask`.
public final class TransformerDecoderLayer: Layer {
    public let options: TransformerOptions
    public let selfAttn: MultiheadAttention
    public let crossAttn: MultiheadAttention
    public let feedForward: FeedForward
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let norm3: LayerNorm
    let dropout1: Dropout
    let dropout2: Dropout
    let dropout3: Dropout

    public init(_ o: TransformerOptions, causal: Bool = true, rng: inout SeededGenerator) {
        options = o
        selfAttn = MultiheadAttention(embedDim: o.dModel, numHeads: o.numHeads, bias: o.bias, causal: causal,
                                      dropout: o.dropout, rng: &rng)
        crossAttn = MultiheadAttention(embedDim: o.dModel, numHeads: o.numHeads, bias: o.bias, dropout: o.dropout, rng: &rng)
        feedForward = FeedForward(o, rng: &rng)
        norm1 = LayerNorm(features: o.dModel, eps: o.layerNormEps)
        norm2 = LayerNorm(features: o.dModel, eps: o.layerNormEps)
        norm3 = LayerNorm(features: o.dModel, eps: o.layerNormEps)
        dropout1 = Dropout(keepProb: 1 - o.dropout)
        dropout2 = Dropout(keepProb: 1 - o.dropout)
        dropout3 = Dropout(keepProb: 1 - o.dropout)
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        self.init(try TransformerOptions(spec: spec, inputShapes: inputShapes), causal: try spec.bool("causal", default: true), rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("self_attn", selfAttn.parameters) + prefixed("multihead_attn", crossAttn.parameters)
            + feedForward.parameters
            + prefixed("norm1", norm1.parameters) + prefixed("norm2", norm2.parameters) + prefixed("norm3", norm3.parameters)
    }

    /// Splits the node's inputs into (x, x_mask, memory, memory_mask).
    static func split<T>(_ inputs: [T]) -> (T, T?, T, T?)? {
        switch inputs.count {
        case 2: return (inputs[0], nil, inputs[1], nil)
        case 3: return (inputs[0], nil, inputs[1], inputs[2])
        case 4: return (inputs[0], inputs[1], inputs[2], inputs[3])
        default: return nil
        }
    }

    /// [T, E], [S, E] (, [S]) -> [T, E]; [T, E], [T], [S, E], [S] -> [T, E].
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard let (x, xMask, memory, memoryMask) = Self.split(inputShapes) else {
            throw ModelError.shape("transformer_decoder_layer takes [x, memory], [x, memory, memory_mask] or [x, x_mask, memory, memory_mask], got \(inputShapes)")
        }
        _ = try selfAttn.outputShape(xMask.map { [x, $0] } ?? [x])
        let memoryMaskShape = memoryMask ?? (memory.count == 2 ? [memory[0]] : [])
        return try crossAttn.outputShape([x, memory, memoryMaskShape])
    }

    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        guard let (x, xMask, memory, memoryMask) = Self.split(inputs) else {
            preconditionFailure("transformer_decoder_layer: expects 2 to 4 inputs, got \(inputs.count)")
        }
        return self(x, mask: xMask, memory: memory, memoryMask: memoryMask, ctx)
    }

    /// x [N, T, E], mask [N, T] or nil, memory [N, S, E], memoryMask [N, S]
    /// or nil (1 = real token) -> [N, T, E].
    public func callAsFunction(_ x: Tensor, mask: Tensor?, memory: Tensor, memoryMask: Tensor?, _ ctx: ForwardContext) -> Tensor {
        func sa(_ h: Tensor) -> Tensor { dropout1(selfAttn(query: h, keyValue: nil, keyMask: mask, ctx), ctx) }
        func ca(_ h: Tensor) -> Tensor { dropout2(crossAttn(query: h, keyValue: memory, keyMask: memoryMask, ctx), ctx) }
        func ff(_ h: Tensor) -> Tensor { dropout3(feedForward(h, ctx), ctx) }
        if options.normFirst {
            let h1 = x + sa(norm1(x, ctx))
            let h2 = h1 + ca(norm2(h1, ctx))
            return h2 + ff(norm3(h2, ctx))
        }
        let h1 = norm1(x + sa(x), ctx)
        let h2 = norm2(h1 + ca(h1), ctx)
        return norm3(h2 + ff(h2), ctx)
    }
}
