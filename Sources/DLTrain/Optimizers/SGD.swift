import DLKernels

/// Plain stochastic gradient descent: p <- p - lr * g.
/// (Robbins & Monro, 1951; PyTorch `torch.optim.SGD` with momentum 0.)
public struct SGD: UpdateRule {
    public var name: String { "sgd" }
    public init() {}

    public func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ state: inout ParameterState, lr: Float
    ) {
        Kernels.axpy(-lr, g.baseAddress!, p.baseAddress!, p.count)
    }
}

/// SGD with momentum, PyTorch's convention (Sutskever et al., 2013; `torch.optim.SGD`,
/// dampening 0): v <- mu * v + g; p <- p - lr * v (Nesterov: p <- p - lr * (g + mu * v)).
///
/// The course writes momentum as an exponential average, v <- beta * v + (1 - beta) * g.
/// The two differ only by the factor (1 - beta) folded into the learning rate
/// (lr_pytorch = lr_course * (1 - beta)); we follow PyTorch so that recipes and
/// learning rates carry over from PyTorch code.
public struct Momentum: UpdateRule {
    public struct Defaults: Sendable {
        public static let momentum: Float = 0.9
    }

    public var momentum: Float
    public var nesterov: Bool
    public var name: String { "momentum" }

    public init(momentum: Float = Defaults.momentum, nesterov: Bool = false) {
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ state: inout ParameterState, lr: Float
    ) {
        let n = p.count, mu = momentum
        var v = state.take("momentum_buffer", count: n)
        v.withUnsafeMutableBufferPointer { pv in
            let vp = pv.baseAddress!, gp = g.baseAddress!
            if state.step == 1 {
                // PyTorch initializes the buffer with the first gradient.
                vp.update(from: gp, count: n)
            } else {
                let muV = Kernels.V(repeating: mu)
                Kernels.zip(vp, gp, vp, n, { v, g in g.addingProduct(v, muV) }, { v, g in g + mu * v })
            }
            if nesterov {
                let muV = Kernels.V(repeating: mu), lrV = Kernels.V(repeating: -lr)
                Kernels.zip3(p.baseAddress!, gp, vp, p.baseAddress!, n,
                             { p, g, v in p.addingProduct(lrV, g.addingProduct(muV, v)) },
                             { p, g, v in p - lr * (g + mu * v) })
            } else {
                Kernels.axpy(-lr, vp, p.baseAddress!, n)
            }
        }
        state.buffers["momentum_buffer"] = v
    }
}
