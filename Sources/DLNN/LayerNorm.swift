import DLTensor
import Foundation

/// Layer normalization (Ba, Kiros & Hinton, 2016), PyTorch's `nn.LayerNorm`
/// over the last axis: y = (x - mean) * rstd * weight + bias, with the biased
/// variance and rstd = 1 / sqrt(var + eps). x [..., F] -> [..., F].
///
/// model.json: `{"type": "layer_norm", "attrs": {"eps": 1e-5}}`.
public final class LayerNorm: UnaryLayer {
    public let features: Int
    public let eps: Float
    /// [F], starts at 1.
    public let weight: Tensor
    /// [F], starts at 0.
    public let bias: Tensor

    public init(features: Int, eps: Float = 1e-5) {
        precondition(features > 0, "LayerNorm: features must be positive")
        self.features = features
        self.eps = eps
        weight = Tensor(repeating: 1, shape: [features]); weight.requiresGrad = true
        bias = Tensor(zeros: [features], requiresGrad: true)
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]]) throws {
        guard inputShapes.count == 1, let f = inputShapes[0].last, f > 0 else {
            throw ModelError.shape("layer_norm '\(spec.name)' needs one input with a positive last axis, got \(inputShapes)")
        }
        self.init(features: f, eps: try spec.float("eps", default: 1e-5))
    }

    public var parameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard inputShape.last == features else { throw ModelError.shape("layer_norm expects [..., \(features)], got \(inputShape)") }
        return inputShape
    }

    /// x [..., F] -> [..., F]. Caches each row's mean and rstd for backward.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let f = features
        precondition(x.shape.last == f, "layer_norm: input \(x.shape) does not end in \(f)")
        let rows = x.count / f
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        var y = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            var s: Float = 0, s2: Float = 0
            for j in 0..<f { s += x.data[r * f + j] }
            let m = s / Float(f)
            for j in 0..<f { let d = x.data[r * f + j] - m; s2 += d * d }
            let rs = 1 / Foundation.sqrt(s2 / Float(f) + eps)
            mean[r] = m; rstd[r] = rs
            for j in 0..<f { y[r * f + j] = (x.data[r * f + j] - m) * rs * weight.data[j] + bias.data[j] }
        }
        let (w, b) = (weight, bias)
        return Tensor.make("layer_norm", shape: x.shape, data: y, inputs: [x, w, b]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            var gw = [Float](repeating: 0, count: f), gb = gw
            for r in 0..<rows {
                // xhat = (x - mean) rstd; dxhat = g w;
                // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
                var m1: Float = 0, m2: Float = 0
                for j in 0..<f {
                    let xh = (x.data[r * f + j] - mean[r]) * rstd[r]
                    let dxh = g[r * f + j] * w.data[j]
                    m1 += dxh; m2 += dxh * xh
                    gw[j] += g[r * f + j] * xh
                    gb[j] += g[r * f + j]
                }
                m1 /= Float(f); m2 /= Float(f)
                for j in 0..<f {
                    let xh = (x.data[r * f + j] - mean[r]) * rstd[r]
                    gx[r * f + j] = rstd[r] * (g[r * f + j] * w.data[j] - m1 - xh * m2)
                }
            }
            x.accumulateGrad(gx); w.accumulateGrad(gw); b.accumulateGrad(gb)
        }
    }
}
