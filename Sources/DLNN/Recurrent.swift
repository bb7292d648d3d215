import DLKernels
import DLTensor
import Foundation

/// Recurrent layers over padded batches: Elman RNN (tanh), GRU (Cho et al.,
/// 2014) and LSTM (Hochreiter & Schmidhuber, 1997), stacked and optionally
/// bidirectional, PyTorch's `nn.RNN` / `nn.GRU` / `nn.LSTM` with
/// `batch_first=True`.
///
/// Weights use PyTorch's names, layouts and gate order so a PyTorch state dict
/// loads: `weight_ih_l{k}` [G*H, in], `weight_hh_l{k}` [G*H, H], `bias_ih_l{k}`,
/// `bias_hh_l{k}` [G*H], and the same with `_reverse` for the backward
/// direction; G = 1 (RNN), 3 (GRU: r, z, n), 4 (LSTM: i, f, g, o).
///
/// model.json: `{"type": "gru", "inputs": ["embed", "mask"], "attrs":
/// {"hidden_size": 64, "num_layers": 1, "bidirectional": true}}` (also
/// `"rnn"` and `"lstm"`). The optional second input is a [N, T] mask of 1 for
/// real steps and 0 for padding (`sequence_mask`); without it every step is
/// real. Forward: x [N, T, in] -> y [N, T, D*H], forward direction first
/// (or [N, T, H], the two directions summed, with `"merge": "sum"`);
/// padded steps output 0 and leave the state unchanged, so a sequence gets
/// the same numbers alone or padded in a batch. The initial state is zero.
public final class Recurrent: Layer {
    public let cell: Kernels.RecurrentCell
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let bidirectional: Bool
    /// How a bidirectional layer's last output joins the two directions:
    /// `concat` ([forward, backward], 2H wide, PyTorch's) or `sum` (H wide).
    public let merge: Merge
    public enum Merge: String, Sendable { case concat, sum }
    /// Per layer and direction: (weight_ih, weight_hh, bias_ih, bias_hh).
    let weights: [[(wih: Tensor, whh: Tensor, bih: Tensor, bhh: Tensor)]]

    public var directions: Int { bidirectional ? 2 : 1 }

    /// Fresh weights, PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for all.
    public init(cell: Kernels.RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int = 1,
                bidirectional: Bool = false, merge: Merge = .concat, rng: inout SeededGenerator) {
        precondition(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                     "Recurrent: sizes must be positive (input \(inputSize), hidden \(hiddenSize), layers \(numLayers))")
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.merge = bidirectional ? merge : .concat
        let a = 1 / Foundation.sqrt(Float(hiddenSize))
        let gh = cell.gates * hiddenSize
        var w: [[(Tensor, Tensor, Tensor, Tensor)]] = []
        for l in 0..<numLayers {
            let inF = l == 0 ? inputSize : hiddenSize * (bidirectional ? 2 : 1)
            var dirs: [(Tensor, Tensor, Tensor, Tensor)] = []
            for _ in 0..<(bidirectional ? 2 : 1) {
                let ts = [[gh, inF], [gh, hiddenSize], [gh], [gh]].map { s -> Tensor in
                    let t = Tensor.uniform(s, low: -a, high: a, rng: &rng)
                    t.requiresGrad = true
                    return t
                }
                dirs.append((ts[0], ts[1], ts[2], ts[3]))
            }
            w.append(dirs)
        }
        weights = w.map { $0.map { (wih: $0.0, whh: $0.1, bih: $0.2, bhh: $0.3) } }
    }

    /// From a model.json node whose first input is [T, in] (T may be -1).
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        guard let cell = Kernels.RecurrentCell(rawValue: spec.type) else {
            throw ModelError.architecture("layer '\(spec.name)': unknown recurrent cell '\(spec.type)'")
        }
        guard (1...2).contains(inputShapes.count) else {
            throw ModelError.shape("\(spec.type) '\(spec.name)' takes x and an optional mask, got \(inputShapes.count) inputs")
        }
        let x = inputShapes[0]
        guard x.count == 2, x[1] > 0 else {
            throw ModelError.shape("\(spec.type) '\(spec.name)' needs a sequence input [T, features], got \(x)")
        }
        if inputShapes.count == 2 {
            guard inputShapes[1] == [x[0]] else {
                throw ModelError.shape("\(spec.type) '\(spec.name)': mask \(inputShapes[1]) does not fit the sequence \(x)")
            }
        }
        let hidden = try spec.int("hidden_size")
        let layers = try spec.int("num_layers", default: 1)
        guard hidden > 0, (1...8).contains(layers) else {
            throw ModelError.architecture("\(spec.type) '\(spec.name)': hidden_size must be positive and num_layers 1...8")
        }
        let mergeName = try spec.string("merge", default: "concat")
        guard let merge = Merge(rawValue: mergeName) else {
            throw ModelError.architecture("\(spec.type) '\(spec.name)': merge must be concat or sum, got '\(mergeName)'")
        }
        self.init(cell: cell, inputSize: x[1], hiddenSize: hidden, numLayers: layers,
                  bidirectional: try spec.bool("bidirectional", default: false), merge: merge, rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for (l, dirs) in weights.enumerated() {
            for (d, w) in dirs.enumerated() {
                let sfx = "_l\(l)" + (d == 1 ? "_reverse" : "")
                out += [("weight_ih" + sfx, w.wih), ("weight_hh" + sfx, w.whh), ("bias_ih" + sfx, w.bih), ("bias_hh" + sfx, w.bhh)]
            }
        }
        return out
    }

    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard let x = inputShapes.first, x.count == 2, x[1] == inputSize else {
            throw ModelError.shape("\(cell.rawValue) expects [T, \(inputSize)], got \(inputShapes.first ?? [])")
        }
        return [x[0], merge == .sum ? hiddenSize : directions * hiddenSize]
    }

    /// x [N, T, in], mask [N, T] (optional) -> [N, T, D*H].
    ///
    /// Without recording (inference) nothing is kept for backward: each
    /// direction's kernel takes its scratch once per call. The two directions
    /// of a bidirectional layer run on two threads when the budget allows.
    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        let y = concatenated(inputs)
        guard merge == .sum else { return y }
        // The forward direction's half plus the backward direction's.
        return y.slice(axis: 2, start: 0, length: hiddenSize) + y.slice(axis: 2, start: hiddenSize, length: hiddenSize)
    }

    /// Every layer, the last one's directions side by side: [N, T, D*H].
    func concatenated(_ inputs: [Tensor]) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 3 && x.shape[2] == inputSize, "\(cell.rawValue): input \(x.shape) is not [N, T, \(inputSize)]")
        let (n, t) = (x.shape[0], x.shape[1])
        let mask = inputs.count > 1 ? inputs[1].data : [Float](repeating: 1, count: n * t)
        precondition(mask.count == n * t, "\(cell.rawValue): mask of \(mask.count) values for [N, T] = [\(n), \(t)]")
        let params = weights.flatMap { $0.flatMap { [$0.wih, $0.whh, $0.bih, $0.bhh] } }
        let record = Tensor.recording([x] + params)
        let width = directions * hiddenSize
        // Layer outputs (layer l's is layer l+1's input) and, when recording,
        // caches (both directions of a layer in one array).
        var outputs: [[Float]] = []
        var caches: [[Float]] = []
        var input = x.data, inWidth = inputSize
        for l in 0..<numLayers {
            var y = [Float](repeating: 0, count: n * t * width)
            let cacheCount = record ? shape(n, t, inWidth, reverse: false).cacheCount : 0
            var cache = [Float](repeating: 0, count: directions * cacheCount)
            input.withUnsafeBufferPointer { px in
                mask.withUnsafeBufferPointer { pm in
                    y.withUnsafeMutableBufferPointer { py in
                        cache.withUnsafeMutableBufferPointer { pc in
                            let (px, pm, py, pc) = (px.baseAddress!, pm.baseAddress!, py.baseAddress!, pc.baseAddress)
                            Kernels.parallelChunks(directions, chunks: Kernels.chunkCount(directions)) { _, dirs in
                                for d in dirs {
                                    let w = weights[l][d]
                                    Kernels.recurrentForward(
                                        shape(n, t, inWidth, reverse: d == 1), x: px, ldx: inWidth,
                                        wih: w.wih.data, whh: w.whh.data, bih: w.bih.data, bhh: w.bhh.data,
                                        mask: pm, y: py, ldy: width, yOffset: d * hiddenSize,
                                        cache: record ? pc! + d * cacheCount : nil)
                                }
                            }
                        }
                    }
                }
            }
            if record { outputs.append(input); caches.append(cache) }
            input = y
            inWidth = width
        }
        let result = input
        return Tensor.make(cell.rawValue, shape: [n, t, width], data: result, inputs: [x] + params) { [self] g in
            var gy = g
            for l in stride(from: numLayers - 1, through: 0, by: -1) {
                let inW = l == 0 ? inputSize : width
                var gx = [Float](repeating: 0, count: n * t * inW)
                for d in 0..<directions {
                    let s = shape(n, t, inW, reverse: d == 1)
                    let w = weights[l][d]
                    var gwih = [Float](repeating: 0, count: w.wih.count), gwhh = [Float](repeating: 0, count: w.whh.count)
                    var gbih = [Float](repeating: 0, count: w.bih.count), gbhh = [Float](repeating: 0, count: w.bhh.count)
                    outputs[l].withUnsafeBufferPointer { px in
                        mask.withUnsafeBufferPointer { pm in
                            caches[l].withUnsafeBufferPointer { pc in
                                gy.withUnsafeBufferPointer { pg in
                                    gx.withUnsafeMutableBufferPointer { pgx in
                                        Kernels.recurrentBackward(
                                            s, x: px.baseAddress!, ldx: inW, wih: w.wih.data, whh: w.whh.data,
                                            mask: pm.baseAddress!, cache: pc.baseAddress! + d * s.cacheCount,
                                            gy: pg.baseAddress!, ldy: width, yOffset: d * hiddenSize,
                                            gx: pgx.baseAddress!, gwih: &gwih, gwhh: &gwhh, gbih: &gbih, gbhh: &gbhh)
                                    }
                                }
                            }
                        }
                    }
                    w.wih.accumulateGrad(gwih); w.whh.accumulateGrad(gwhh)
                    w.bih.accumulateGrad(gbih); w.bhh.accumulateGrad(gbhh)
                }
                gy = gx
            }
            x.accumulateGrad(gy)
        }
    }

    func shape(_ n: Int, _ t: Int, _ input: Int, reverse: Bool) -> Kernels.RecurrentShape {
        Kernels.RecurrentShape(cell: cell, batch: n, steps: t, input: input, hidden: hiddenSize, reverse: reverse)
    }
}
