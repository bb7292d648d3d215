import DLKernels

/// RMSprop (Hinton, Coursera lecture 6e, 2012; PyTorch `torch.optim.RMSprop`, not centered,
/// no momentum): s <- alpha * s + (1 - alpha) * g^2; p <- p - lr * g / (sqrt(s) + eps).
///
/// The course writes beta for alpha and omits eps; eps sits outside the square
/// root as in PyTorch.
public struct RMSprop: UpdateRule {
    public struct Defaults: Sendable {
        public static let alpha: Float = 0.99
        public static let eps: Float = 1e-8
    }

    public var alpha: Float
    public var eps: Float
    public var name: String { "rmsprop" }

    public init(alpha: Float = Defaults.alpha, eps: Float = Defaults.eps) {
        self.alpha = alpha
        self.eps = eps
    }

    public func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ state: inout ParameterState, lr: Float
    ) {
        let n = p.count, a = alpha, e = eps
        var s = state.take("square_avg", count: n)
        s.withUnsafeMutableBufferPointer { ps in
            let sp = ps.baseAddress!, gp = g.baseAddress!, pp = p.baseAddress!
            let aV = Kernels.V(repeating: a), bV = Kernels.V(repeating: 1 - a)
            Kernels.zip(sp, gp, sp, n, { s, g in (s * aV).addingProduct(bV, g * g) }, { s, g in a * s + (1 - a) * g * g })
            let lrV = Kernels.V(repeating: lr), eV = Kernels.V(repeating: e)
            Kernels.zip3(pp, gp, sp, pp, n,
                         { p, g, s in p - lrV * g / (s.squareRoot() + eV) },
                         { p, g, s in p - lr * g / (s.squareRoot() + e) })
        }
        state.buffers["square_avg"] = s
    }
}
