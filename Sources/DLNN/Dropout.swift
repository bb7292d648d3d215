import DLKernels
import DLTensor

/// Inverted dropout (Srivastava et al., 2014; the course's convention): in
/// training each value is kept with probability keep_prob and scaled by
/// 1 / keep_prob, so the expected activation is unchanged and inference is
/// the identity. Note keep_prob is the probability of keeping, PyTorch's
/// `p` is that of dropping: keep_prob = 1 - p.
///
/// model.json: `{"type": "dropout", "attrs": {"keep_prob": 0.8}}`.
public final class Dropout: UnaryLayer {
    public let keepProb: Float

    public init(keepProb: Float) {
        precondition(keepProb > 0 && keepProb <= 1, "Dropout: keep_prob must be in (0, 1], got \(keepProb)")
        self.keepProb = keepProb
    }

    public convenience init(spec: LayerSpec) throws {
        let keep = try spec.float("keep_prob", default: 0.5)
        guard keep > 0 && keep <= 1 else {
            throw ModelError.architecture("dropout '\(spec.name)': keep_prob must be in (0, 1], got \(keep)")
        }
        self.init(keepProb: keep)
    }

    /// Any shape -> the same shape.
    public func outputShape(_ inputShape: [Int]) throws -> [Int] { inputShape }

    /// x [N, ...] -> [N, ...]. Training: x * mask, mask = (u < keep_prob) /
    /// keep_prob with u ~ U[0, 1) from ctx.rng, one draw per value in order.
    /// Inference (ctx.training == false) or keep_prob == 1: x itself.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard ctx.training, keepProb < 1 else { return x }
        let n = x.count
        let scale = 1 / keepProb
        var rng = ctx.rng  // a local copy: no exclusivity check per draw
        let keep = keepProb
        let mask = Tensor.filled(n) { pm in
            for i in 0..<n { pm[i] = rng.uniform() < keep ? scale : 0 }
        }
        ctx.rng = rng
        let y = Tensor.filled(n) { py in
            x.data.withUnsafeBufferPointer { px in Kernels.elementwiseProduct(px.baseAddress!, mask, py, n) }
        }
        return Tensor.make("dropout", shape: x.shape, data: y, inputs: [x]) { g in
            // d y / d x = mask.
            x.accumulateGrad(Tensor.filled(n) { pgx in Kernels.elementwiseProduct(g, mask, pgx, n) })
        }
    }
}
