import DLKernels

/// Activations and (log-)softmax as differentiable tensor ops over the fused
/// kernels in `Kernels+Activations` and `Kernels+Softmax`, so recurrent cells
/// and attention can use them without layers.
extension Tensor {
    /// ReLU, max(x, 0). Any shape -> same shape; relu'(0) = 0.
    public func relu() -> Tensor { activation(.relu, "relu") }

    /// Leaky ReLU: x for x > 0, slope * x otherwise. Any shape -> same shape.
    public func leakyRelu(slope: Float = 0.01) -> Tensor { activation(.leakyRelu(slope: slope), "leaky_relu") }

    /// ReLU6, min(max(x, 0), 6). Any shape -> same shape.
    public func relu6() -> Tensor { activation(.relu6, "relu6") }

    /// Logistic sigmoid 1 / (1 + e^-x), stable for large |x|. Any shape -> same shape.
    public func sigmoid() -> Tensor { activation(.sigmoid, "sigmoid") }

    /// Hyperbolic tangent. Any shape -> same shape.
    public func tanh() -> Tensor { activation(.tanh, "tanh") }

    /// Applies one fused activation kernel, forward and backward.
    public func activation(_ f: Kernels.Activation, _ name: String) -> Tensor {
        let x = self
        let n = count
        let y = Tensor.filled(n) { py in
            x.data.withUnsafeBufferPointer { Kernels.activationForward(f, $0.baseAddress!, py, n) }
        }
        return Tensor.make(name, shape: shape, data: y, inputs: [x]) { g in
            let gx = Tensor.filled(n) { pgx in
                x.data.withUnsafeBufferPointer { px in
                    y.withUnsafeBufferPointer { py in
                        g.withUnsafeBufferPointer { pg in
                            Kernels.activationBackward(f, x: px.baseAddress!, y: py.baseAddress!,
                                                       gy: pg.baseAddress!, gx: pgx, n)
                        }
                    }
                }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Softmax along `axis` (default the last), stable: e^(x - max) / sum.
    /// Any shape -> same shape; each slice along `axis` sums to 1.
    public func softmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: false) }

    /// Log-softmax along `axis` (default the last): x - max - log(sum e^(x - max)).
    /// Any shape -> same shape.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxOp(axis: axis, log: true) }

    func softmaxOp(axis: Int, log: Bool) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "\(log ? "logSoftmax" : "softmax"): axis \(axis) out of range for shape \(shape)")
        let (outer, dim, inner) = axisSplit(ax)
        let x = self
        let y = Tensor.filled(count) { py in
            x.data.withUnsafeBufferPointer {
                Kernels.softmaxForward($0.baseAddress!, py, outer: outer, dim: dim, inner: inner, log: log)
            }
        }
        return Tensor.make(log ? "log_softmax" : "softmax", shape: shape, data: y, inputs: [x]) { g in
            let gx = Tensor.filled(y.count) { pgx in
                y.withUnsafeBufferPointer { py in
                    g.withUnsafeBufferPointer { pg in
                        Kernels.softmaxBackward(y: py.baseAddress!, gy: pg.baseAddress!, gx: pgx,
                                                outer: outer, dim: dim, inner: inner, log: log)
                    }
                }
            }
            x.accumulateGrad(gx)
        }
    }

    /// A new array of n values written by `fill` (which must write all of
    /// them); no zero fill first. `fill` is not called when n == 0.
    @inlinable
    public static func filled(_ n: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        guard n > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            fill(buf.baseAddress!)
            initialized = n
        }
    }
}
