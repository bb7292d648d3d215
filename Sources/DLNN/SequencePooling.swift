import DLKernels
import DLTensor

/// Many-to-one: pools a padded sequence over its real steps.
/// x [N, T, F], mask [N, T] -> [N, F].
/// - `max`: the largest value of each feature over the real steps;
/// - `mean`: their average;
/// - `last`: the state at the last real step; with `"directions": 2` (the
///   output of a bidirectional layer) the first half of the features comes from
///   the last real step and the second half, the reverse direction's final
///   state, from step 0, as PyTorch's `h_n` holds them.
/// A sequence with no real step pools to 0.
///
/// model.json: `{"type": "sequence_pool", "inputs": ["gru", "mask"], "attrs": {"mode": "max"}}`.
public final class SequencePool: Layer {
    public enum Mode: String, CaseIterable, Sendable { case max, mean, last }
    public let mode: Mode
    public let directions: Int

    public init(mode: Mode, directions: Int = 1) {
        precondition(directions == 1 || directions == 2, "SequencePool: directions must be 1 or 2")
        self.mode = mode
        self.directions = directions
    }

    public convenience init(spec: LayerSpec) throws {
        let m = try spec.string("mode", default: "max")
        guard let mode = Mode(rawValue: m) else {
            throw ModelError.architecture("sequence_pool '\(spec.name)': mode '\(m)' is not one of \(Mode.allCases.map(\.rawValue))")
        }
        let d = try spec.int("directions", default: 1)
        guard d == 1 || d == 2 else { throw ModelError.architecture("sequence_pool '\(spec.name)': directions must be 1 or 2") }
        self.init(mode: mode, directions: d)
    }

    /// [T, F] and [T] -> [F].
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 2, inputShapes[0].count == 2, inputShapes[1] == [inputShapes[0][0]] else {
            throw ModelError.shape("sequence_pool takes a sequence [T, F] and its mask [T], got \(inputShapes)")
        }
        guard inputShapes[0][1] % directions == 0 else {
            throw ModelError.shape("sequence_pool: \(inputShapes[0][1]) features do not split into \(directions) directions")
        }
        return [inputShapes[0][1]]
    }

    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(inputs.count == 2, "sequence_pool: expects x and mask")
        let x = inputs[0], mask = inputs[1].data
        precondition(x.rank == 3 && mask.count == x.shape[0] * x.shape[1], "sequence_pool: x \(x.shape) with \(mask.count) mask values")
        let (n, t, f) = (x.shape[0], x.shape[1], x.shape[2])
        // Inference: the vector kernels, nothing kept for backward.
        if !Tensor.recording([x]) && self.mode != .last && x.count > 0 {
            let out = Tensor.filled(n * f) { po in
                x.data.withUnsafeBufferPointer { px in
                    mask.withUnsafeBufferPointer { pm in
                        let (px, pm) = (px.baseAddress!, pm.baseAddress!)
                        if self.mode == .max {
                            Kernels.sequenceMaxPool(x: px, mask: pm, n: n, t: t, f: f, out: po)
                        } else {
                            Kernels.sequenceMeanPool(x: px, mask: pm, n: n, t: t, f: f, out: po)
                        }
                    }
                }
            }
            return Tensor(shape: [n, f], data: out)
        }
        // For every output value, the input positions it reads and their weight.
        var source = [Int](repeating: -1, count: n * f)
        var out = [Float](repeating: 0, count: n * f)
        var weight = [Float](repeating: 0, count: n)
        for b in 0..<n {
            let length = (0..<t).filter { mask[b * t + $0] != 0 }.count
            guard length > 0 else { continue }
            switch mode {
            case .max:
                for j in 0..<f {
                    var best = -Float.infinity, at = -1
                    for s in 0..<t where mask[b * t + s] != 0 {
                        let v = x.data[(b * t + s) * f + j]
                        if v > best { best = v; at = (b * t + s) * f + j }
                    }
                    out[b * f + j] = best
                    source[b * f + j] = at
                }
            case .mean:
                weight[b] = 1 / Float(length)
                for s in 0..<t where mask[b * t + s] != 0 {
                    for j in 0..<f { out[b * f + j] += x.data[(b * t + s) * f + j] * weight[b] }
                }
            case .last:
                let half = f / directions
                for j in 0..<f {
                    let s = j < half ? length - 1 : 0
                    source[b * f + j] = (b * t + s) * f + j
                    out[b * f + j] = x.data[source[b * f + j]]
                }
            }
        }
        let mode = self.mode
        return Tensor.make("sequence_pool", shape: [n, f], data: out, inputs: [x]) { g in
            x.accumulateGrad { gx in
                if mode == .mean {
                    for b in 0..<n where weight[b] > 0 {
                        for s in 0..<t where mask[b * t + s] != 0 {
                            for j in 0..<f { gx[(b * t + s) * f + j] += g[b * f + j] * weight[b] }
                        }
                    }
                } else {
                    for (i, src) in source.enumerated() where src >= 0 { gx[src] += g[i] }
                }
            }
        }
    }
}
