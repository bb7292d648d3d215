import DLTensor
import Foundation

/// Multi-head attention (Vaswani et al., 2017), PyTorch's
/// `nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)` with its
/// parameter names and layouts, so state dicts load by name:
/// "in_proj_weight" [3E, E] (rows: query, key, value projections),
/// "in_proj_bias" [3E], "out_proj.weight" [E, E], "out_proj.bias" [E].
///
/// Masks follow dlserve's convention, 1 = take part: a key mask [N, S] holds
/// 1 for real tokens and 0 for padding (the `sequence_mask` output; PyTorch's
/// boolean `key_padding_mask` is its negation). `causal` lets query t attend
/// keys up to t (aligned bottom-right when S > T, as a decoder with a cache
/// of S - T earlier steps needs; PyTorch's `attn_mask` of
/// `triu(ones(T, S), 1)` is the same when S == T). A query with no key to
/// attend gets the output projection's bias (PyTorch gives NaN).
///
/// model.json: `{"type": "multihead_attention", "inputs": ["x", "mask"],
/// "attrs": {"num_heads": 8, "causal": false, "bias": true, "dropout": 0}}`.
/// Inputs: [x] or [x, mask] for self-attention; [query, memory, memory_mask]
/// for cross-attention (key = value = memory).
public final class MultiheadAttention: Layer {
    public let embedDim: Int
    public let numHeads: Int
    public let causal: Bool
    /// PyTorch's `dropout`: the probability of dropping an attention weight in training.
    public let dropout: Float
    /// [3E, E].
    public let inProjWeight: Tensor
    /// [3E], or nil without bias.
    public let inProjBias: Tensor?
    /// E -> E, parameters "out_proj.weight", "out_proj.bias".
    public let outProj: Linear

    /// PyTorch's initialisation: Xavier-uniform in_proj_weight, out_proj.weight
    /// uniform in +-1/sqrt(E) (nn.Linear's default), biases 0.
    public init(embedDim: Int, numHeads: Int, bias: Bool = true, causal: Bool = false, dropout: Float = 0,
                rng: inout SeededGenerator) {
        precondition(embedDim > 0 && numHeads > 0 && embedDim % numHeads == 0,
                     "MultiheadAttention: embed_dim \(embedDim) must be a positive multiple of num_heads \(numHeads)")
        precondition(dropout >= 0 && dropout < 1, "MultiheadAttention: dropout \(dropout) outside [0, 1)")
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.causal = causal
        self.dropout = dropout
        inProjWeight = Initializer.xavier.make([3 * embedDim, embedDim], rng: &rng)
        inProjBias = bias ? Initializer.zeros.make([3 * embedDim], rng: &rng) : nil
        let bound = 1 / Foundation.sqrt(Float(embedDim))
        let w = Tensor.uniform([embedDim, embedDim], low: -bound, high: bound, rng: &rng)
        w.requiresGrad = true
        outProj = Linear(weight: w, bias: bias ? Initializer.zeros.make([embedDim], rng: &rng) : nil)
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        guard let e = inputShapes.first?.last, inputShapes[0].count == 2, e > 0 else {
            throw ModelError.shape("multihead_attention '\(spec.name)' takes a sequence [T, E] first, got \(inputShapes)")
        }
        let heads = try spec.int("num_heads")
        guard heads > 0, e % heads == 0 else {
            throw ModelError.architecture("multihead_attention '\(spec.name)': embed_dim \(e) is not a multiple of num_heads \(heads)")
        }
        if spec.attr("embed_dim") != nil, try spec.int("embed_dim") != e {
            throw ModelError.shape("multihead_attention '\(spec.name)': embed_dim \(try spec.int("embed_dim")) but the input has \(e) features")
        }
        let p = try spec.float("dropout", default: 0)
        guard p >= 0 && p < 1 else { throw ModelError.architecture("multihead_attention '\(spec.name)': dropout \(p) outside [0, 1)") }
        self.init(embedDim: e, numHeads: heads, bias: try spec.bool("bias", default: true),
                  causal: try spec.bool("causal", default: false), dropout: p, rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        [("in_proj_weight", inProjWeight)] + (inProjBias.map { [("in_proj_bias", $0)] } ?? [])
            + prefixed("out_proj", outProj.parameters)
    }

    /// [T, E] -> [T, E]; [T, E], [T] -> [T, E]; [T, E], [S, E], [S] -> [T, E].
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        let e = embedDim
        func fits(_ a: Int, _ b: Int) -> Bool { a == b || a == -1 || b == -1 }
        switch inputShapes.count {
        case 1 where inputShapes[0].count == 2 && inputShapes[0][1] == e:
            return inputShapes[0]
        case 2 where inputShapes[0].count == 2 && inputShapes[0][1] == e && inputShapes[1].count == 1
            && fits(inputShapes[1][0], inputShapes[0][0]):
            return inputShapes[0]
        case 3 where inputShapes[0].count == 2 && inputShapes[0][1] == e && inputShapes[1].count == 2
            && inputShapes[1][1] == e && inputShapes[2].count == 1 && fits(inputShapes[2][0], inputShapes[1][0]):
            return inputShapes[0]
        default:
            throw ModelError.shape("multihead_attention (E = \(e)) takes [T, E], [T, E] and a mask [T], "
                                   + "or [T, E], a memory [S, E] and its mask [S]; got \(inputShapes)")
        }
    }

    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        switch inputs.count {
        case 1: return self(query: inputs[0], keyValue: nil, keyMask: nil, ctx)
        case 2: return self(query: inputs[0], keyValue: nil, keyMask: inputs[1], ctx)
        case 3: return self(query: inputs[0], keyValue: inputs[1], keyMask: inputs[2], ctx)
        default: preconditionFailure("multihead_attention: expects 1 to 3 inputs, got \(inputs.count)")
        }
    }

    /// query [N, T, E], keyValue [N, S, E] (nil: self-attention on the query),
    /// keyMask [N, S] (1 = real key) or nil -> [N, T, E].
    public func callAsFunction(query: Tensor, keyValue: Tensor?, keyMask: Tensor?, _ ctx: ForwardContext) -> Tensor {
        let (e, h) = (embedDim, numHeads)
        let memory = keyValue ?? query
        precondition(query.rank == 3 && query.shape[2] == e && memory.rank == 3 && memory.shape[2] == e
                     && memory.shape[0] == query.shape[0],
                     "multihead_attention: query \(query.shape) and key/value \(memory.shape) must be [N, *, \(e)]")
        let (n, t, s) = (query.shape[0], query.shape[1], memory.shape[1])
        precondition(keyMask == nil || keyMask!.shape == [n, s], "multihead_attention: key mask \(keyMask!.shape) is not [\(n), \(s)]")
        // Projections: one [3E, E] product for self-attention, else the
        // query rows on the query and the key and value rows on the memory.
        let q, k, v: Tensor
        if keyValue == nil {
            let qkv = query.linear(weight: inProjWeight, bias: inProjBias).split(sizes: [e, e, e], axis: 2)
            (q, k, v) = (qkv[0], qkv[1], qkv[2])
        } else {
            let ws = inProjWeight.split(sizes: [e, 2 * e], axis: 0), bs = inProjBias?.split(sizes: [e, 2 * e], axis: 0)
            q = query.linear(weight: ws[0], bias: bs?[0])
            let kv = memory.linear(weight: ws[1], bias: bs?[1]).split(sizes: [e, e], axis: 2)
            (k, v) = (kv[0], kv[1])
        }
        // [N, L, E] -> [N, H, L, E/H].
        func heads(_ x: Tensor, _ l: Int) -> Tensor { x.reshaped([n, l, h, e / h]).permuted([0, 2, 1, 3]) }
        var keep: Tensor? = keyMask?.reshaped([n, 1, 1, s])
        if causal {
            let c = Tensor.causalMask(queries: t, keys: s)
            keep = keep.map { $0 * c } ?? c
        }
        let attended = scaledDotProductAttention(query: heads(q, t), key: heads(k, s), value: heads(v, s), keep: keep,
                                                 dropout: dropout, ctx: ctx)
        // [N, H, T, E/H] -> [N, T, E] -> out_proj.
        return outProj(attended.permuted([0, 2, 1, 3]).reshaped([n, t, e]), ctx)
    }
}
