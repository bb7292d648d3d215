import DLKernels
import Foundation

/// Adam (Kingma & Ba, 2015, Algorithm 1; PyTorch `torch.optim.Adam`):
/// m <- b1 * m + (1 - b1) * g; v <- b2 * v + (1 - b2) * g^2;
/// p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
///
/// The course notes write (1 - beta) in both moment updates; the paper uses
/// (1 - beta1) for the first moment and (1 - beta2) for the second, and so do we.
/// eps is added after the square root of the bias-corrected second moment,
/// computed as PyTorch does: denom = sqrt(v) / sqrt(1 - b2^t) + eps.
public struct Adam: UpdateRule {
    public struct Defaults: Sendable {
        public static let beta1: Float = 0.9
        public static let beta2: Float = 0.999
        public static let eps: Float = 1e-8
    }

    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var name: String { "adam" }

    public init(beta1: Float = Defaults.beta1, beta2: Float = Defaults.beta2, eps: Float = Defaults.eps) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
    }

    public func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ state: inout ParameterState, lr: Float
    ) {
        let n = p.count, b1 = beta1, b2 = beta2, e = eps
        let t = Double(state.step)
        let bc1 = Float(1 - pow(Double(b1), t)), bc2Sqrt = Float((1 - pow(Double(b2), t)).squareRoot())
        let stepSize = lr / bc1
        var m = state.take("exp_avg", count: n)
        var v = state.take("exp_avg_sq", count: n)
        m.withUnsafeMutableBufferPointer { pm in
            v.withUnsafeMutableBufferPointer { pv in
                let mp = pm.baseAddress!, vp = pv.baseAddress!, gp = g.baseAddress!, pp = p.baseAddress!
                let b1V = Kernels.V(repeating: b1), c1V = Kernels.V(repeating: 1 - b1)
                let b2V = Kernels.V(repeating: b2), c2V = Kernels.V(repeating: 1 - b2)
                Kernels.zip(mp, gp, mp, n, { m, g in (m * b1V).addingProduct(c1V, g) }, { m, g in b1 * m + (1 - b1) * g })
                Kernels.zip(vp, gp, vp, n, { v, g in (v * b2V).addingProduct(c2V, g * g) }, { v, g in b2 * v + (1 - b2) * g * g })
                let sV = Kernels.V(repeating: stepSize), bV = Kernels.V(repeating: bc2Sqrt), eV = Kernels.V(repeating: e)
                Kernels.zip3(pp, mp, vp, pp, n,
                             { p, m, v in p - sV * m / (v.squareRoot() / bV + eV) },
                             { p, m, v in p - stepSize * m / (v.squareRoot() / bc2Sqrt + e) })
            }
        }
        state.buffers["exp_avg"] = m
        state.buffers["exp_avg_sq"] = v
    }
}
