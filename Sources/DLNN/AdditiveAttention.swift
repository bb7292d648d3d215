import DLTensor
import Foundation

/// Additive attention (Bahdanau, Cho & Bengio, 2015), the course's alignment
/// network: for a decoder state s (the query, s<t-1> in the course) and the
/// encoder states h_j (the memory, a bidirectional encoder's outputs),
///
///     e_j = v^T tanh(W_a s + U_a h_j),
///     alpha_j = softmax over the real source tokens of e_j,
///     context = sum_j alpha_j h_j.
///
/// Parameters as a PyTorch module of three `nn.Linear` would name them:
/// "query_proj.weight" W_a [A, Dq], "key_proj.weight" U_a [A, Dk] (with
/// `bias`, also "key_proj.bias" [A]), "v.weight" [1, A]; A = `units`.
///
/// model.json: `{"type": "additive_attention", "inputs": ["dec", "enc", "src_mask"],
/// "attrs": {"units": 64, "bias": false}}`: inputs [query [T, Dq], memory
/// [S, Dk]] or with the memory's mask [S] (1 = real token) -> the contexts
/// [T, Dk], every query attending independently (a whole teacher-forced
/// sequence of decoder states at once). A decoder that feeds each context
/// back into its next state runs `step` one position at a time, with the
/// keys projected once per source by `projectKeys`.
public final class AdditiveAttention: Layer {
    public let queryDim: Int
    public let keyDim: Int
    public let units: Int
    /// W_a, no bias.
    public let queryProj: Linear
    /// U_a, optionally with the bias of the tanh's argument.
    public let keyProj: Linear
    /// v as a [1, A] linear map, no bias.
    public let v: Linear

    /// nn.Linear's initialisation: uniform in +-1/sqrt(in); a bias starts at 0.
    public init(queryDim: Int, keyDim: Int, units: Int, bias: Bool = false, rng: inout SeededGenerator) {
        precondition(queryDim > 0 && keyDim > 0 && units > 0,
                     "AdditiveAttention: dims must be positive, got query \(queryDim), key \(keyDim), units \(units)")
        (self.queryDim, self.keyDim, self.units) = (queryDim, keyDim, units)
        func weight(_ outF: Int, _ inF: Int) -> Tensor {
            let b = 1 / Foundation.sqrt(Float(inF))
            let w = Tensor.uniform([outF, inF], low: -b, high: b, rng: &rng)
            w.requiresGrad = true
            return w
        }
        queryProj = Linear(weight: weight(units, queryDim), bias: nil)
        keyProj = Linear(weight: weight(units, keyDim), bias: bias ? Initializer.zeros.make([units], rng: &rng) : nil)
        v = Linear(weight: weight(1, units), bias: nil)
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        guard inputShapes.count == 2 || inputShapes.count == 3, inputShapes[0].count == 2, inputShapes[1].count == 2,
              inputShapes[0][1] > 0, inputShapes[1][1] > 0 else {
            throw ModelError.shape("additive_attention '\(spec.name)' takes a query [T, Dq], a memory [S, Dk] and optionally its mask [S], got \(inputShapes)")
        }
        let units = try spec.int("units")
        guard units > 0 else { throw ModelError.architecture("additive_attention '\(spec.name)': units must be positive, got \(units)") }
        self.init(queryDim: inputShapes[0][1], keyDim: inputShapes[1][1], units: units,
                  bias: try spec.bool("bias", default: false), rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("query_proj", queryProj.parameters) + prefixed("key_proj", keyProj.parameters) + prefixed("v", v.parameters)
    }

    /// [T, Dq], [S, Dk] (, [S]) -> [T, Dk].
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        func fits(_ a: Int, _ b: Int) -> Bool { a == b || a == -1 || b == -1 }
        guard inputShapes.count == 2 || inputShapes.count == 3,
              inputShapes[0].count == 2, inputShapes[0][1] == queryDim,
              inputShapes[1].count == 2, inputShapes[1][1] == keyDim,
              inputShapes.count == 2 || (inputShapes[2].count == 1 && fits(inputShapes[2][0], inputShapes[1][0])) else {
            throw ModelError.shape("additive_attention takes a query [T, \(queryDim)], a memory [S, \(keyDim)] and optionally its mask [S], got \(inputShapes)")
        }
        return [inputShapes[0][0], keyDim]
    }

    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(inputs.count == 2 || inputs.count == 3, "additive_attention: expects 2 or 3 inputs, got \(inputs.count)")
        return attend(query: inputs[0], memory: inputs[1], mask: inputs.count == 3 ? inputs[2] : nil).context
    }

    /// U_a h_j (+ b) for every source position, once per source:
    /// memory [N, S, Dk] -> [N, S, A].
    public func projectKeys(_ memory: Tensor) -> Tensor {
        precondition(memory.rank == 3 && memory.shape[2] == keyDim, "additive_attention: memory \(memory.shape) is not [N, S, \(keyDim)]")
        return memory.linear(weight: keyProj.weight, bias: keyProj.bias)
    }

    /// Every query attends the memory: query [N, T, Dq], memory [N, S, Dk],
    /// mask [N, S] (1 = real token) or nil, projectedKeys = projectKeys(memory)
    /// when already computed -> context [N, T, Dk] and weights alpha [N, T, S]
    /// (0 on padding; a query with no real token gets a zero context).
    public func attend(query: Tensor, memory: Tensor, mask: Tensor?, projectedKeys: Tensor? = nil) -> (context: Tensor, weights: Tensor) {
        precondition(query.rank == 3 && query.shape[2] == queryDim && memory.rank == 3 && memory.shape[0] == query.shape[0],
                     "additive_attention: query \(query.shape) and memory \(memory.shape) are not [N, T, \(queryDim)] and [N, S, \(keyDim)]")
        let (n, t, s) = (query.shape[0], query.shape[1], memory.shape[1])
        precondition(mask == nil || mask!.shape == [n, s], "additive_attention: mask \(mask!.shape) is not [\(n), \(s)]")
        let keys = projectedKeys ?? projectKeys(memory)
        precondition(keys.shape == [n, s, units], "additive_attention: projected keys \(keys.shape) are not [\(n), \(s), \(units)]")
        // W_a s [N, T, 1, A] + U_a h [N, 1, S, A] -> tanh -> v^T -> e [N, T, S].
        let q = query.linear(weight: queryProj.weight, bias: nil).reshaped([n, t, 1, units])
        let hidden = (q + keys.reshaped([n, 1, s, units])).tanh()
        let scores = hidden.linear(weight: v.weight, bias: nil).reshaped([n, t, s])
        let weights = scores.maskedSoftmax(mask?.reshaped([n, 1, s]))
        // [N, T, S] x [N, S, Dk] -> [N, T, Dk].
        return (weights.matmul(memory, transposeA: false, transposeB: false), weights)
    }

    /// One decoder step: state s<t-1> [N, Dq] -> context [N, Dk] and weights
    /// [N, S]; pass `projectedKeys` from `projectKeys(memory)` so the source
    /// side is not recomputed at every step.
    public func step(state: Tensor, memory: Tensor, mask: Tensor?, projectedKeys: Tensor? = nil) -> (context: Tensor, weights: Tensor) {
        precondition(state.rank == 2, "additive_attention: state \(state.shape) is not [N, \(queryDim)]")
        let (n, s) = (state.shape[0], memory.shape[1])
        let r = attend(query: state.reshaped([n, 1, queryDim]), memory: memory, mask: mask, projectedKeys: projectedKeys)
        return (r.context.reshaped([n, keyDim]), r.weights.reshaped([n, s]))
    }
}
