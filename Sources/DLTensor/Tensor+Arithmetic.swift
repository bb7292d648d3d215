import DLKernels

/// Broadcasting binary arithmetic with gradients.
extension Tensor {
    /// The shared body of the four binary ops: a fast path for equal shapes and
    /// a general broadcasting path.
    static func binary(
        _ name: String, _ a: Tensor, _ b: Tensor,
        _ fv: (Kernels.V, Kernels.V) -> Kernels.V, _ fs: @escaping (Float, Float) -> Float,
        grads: @escaping (_ a: Float, _ b: Float, _ g: Float) -> (Float, Float)
    ) -> Tensor {
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let n = outShape.product
        var out = [Float](repeating: 0, count: n)
        if a.shape == b.shape {
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    out.withUnsafeMutableBufferPointer { po in
                        Kernels.zip(pa.baseAddress!, pb.baseAddress!, po.baseAddress!, n, fv, fs)
                    }
                }
            }
            return make(name, shape: outShape, data: out, inputs: [a, b]) { g in
                var ga = [Float](repeating: 0, count: n), gb = ga
                for i in 0..<n {
                    let (x, y) = grads(a.data[i], b.data[i], g[i])
                    ga[i] = x; gb[i] = y
                }
                a.accumulateGrad(ga); b.accumulateGrad(gb)
            }
        }
        let ma = Broadcast.indexMap(from: a.shape, to: outShape)
        let mb = Broadcast.indexMap(from: b.shape, to: outShape)
        for i in 0..<n { out[i] = fs(a.data[ma[i]], b.data[mb[i]]) }
        return make(name, shape: outShape, data: out, inputs: [a, b]) { g in
            var ga = [Float](repeating: 0, count: a.count), gb = [Float](repeating: 0, count: b.count)
            for i in 0..<n {
                let (x, y) = grads(a.data[ma[i]], b.data[mb[i]], g[i])
                ga[ma[i]] += x; gb[mb[i]] += y
            }
            a.accumulateGrad(ga); b.accumulateGrad(gb)
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        binary("add", a, b, { $0 + $1 }, { $0 + $1 }, grads: { _, _, g in (g, g) })
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        binary("sub", a, b, { $0 - $1 }, { $0 - $1 }, grads: { _, _, g in (g, -g) })
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        binary("mul", a, b, { $0 * $1 }, { $0 * $1 }, grads: { x, y, g in (g * y, g * x) })
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binary("div", a, b, { $0 / $1 }, { $0 / $1 }, grads: { x, y, g in (g / y, -g * x / (y * y)) })
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a - Tensor(scalar: s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.scaled(by: 1 / s) }
    public static prefix func - (a: Tensor) -> Tensor { a.scaled(by: -1) }

    /// a * s.
    public func scaled(by s: Float) -> Tensor {
        let a = self
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                Kernels.map(px.baseAddress!, po.baseAddress!, count, { $0 * s }, { $0 * s })
            }
        }
        return Tensor.make("scale", shape: shape, data: out, inputs: [a]) { g in
            a.accumulateGrad(g.map { $0 * s })
        }
    }
}
