import Foundation

/// Elementwise activations, forward and backward, 8 lanes at a time.
extension Kernels {
    /// The activation functions with a fused kernel.
    public enum Activation: Equatable, Sendable {
        /// max(x, 0).
        case relu
        /// x for x > 0, slope * x otherwise (Maas et al., 2013).
        case leakyRelu(slope: Float)
        /// min(max(x, 0), 6) (Howard et al., 2017, MobileNets).
        case relu6
        /// 1 / (1 + e^-x), computed without overflow for either sign.
        case sigmoid
        /// tanh(x). The course notes print the denominator as e^z + e^-1; the
        /// function is (e^z - e^-z) / (e^z + e^-z).
        case tanh
    }

    /// y[i] = f(x[i]) for i in 0..<n. `x` and `y` may be the same buffer.
    public static func activationForward(
        _ f: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        var i = 0
        switch f {
        case .relu:
            let zero = V(repeating: 0)
            while i + 8 <= n { let v = Lanes.load(x, i); Lanes.store(v.replacing(with: zero, where: v .< zero), y, i); i += 8 }
            while i < n { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
        case .leakyRelu(let slope):
            let s = V(repeating: slope)
            while i + 8 <= n {
                let v = Lanes.load(x, i)
                Lanes.store(v.replacing(with: v * s, where: .!(v .> 0)), y, i)
                i += 8
            }
            while i < n { y[i] = x[i] > 0 ? x[i] : slope * x[i]; i += 1 }
        case .relu6:
            let zero = V(repeating: 0), six = V(repeating: 6)
            while i + 8 <= n {
                let v = Lanes.load(x, i)
                Lanes.store(v.replacing(with: zero, where: v .< zero).replacing(with: six, where: v .> six), y, i)
                i += 8
            }
            while i < n { y[i] = Swift.min(Swift.max(x[i], 0), 6); i += 1 }
        case .sigmoid:
            while i + 8 <= n { Lanes.store(sigmoidLanes(Lanes.load(x, i)), y, i); i += 8 }
            while i < n { y[i] = sigmoidScalar(x[i]); i += 1 }
        case .tanh:
            while i + 8 <= n { Lanes.store(tanhLanes(Lanes.load(x, i)), y, i); i += 8 }
            while i < n { y[i] = Foundation.tanh(x[i]); i += 1 }
        }
    }

    /// gx[i] = gy[i] * f'(x[i]) from the forward pass's input `x` and output
    /// `y` (the ReLU family reads x, sigmoid and tanh read y: y(1 - y), 1 - y^2).
    /// At the kinks the derivative is that of PyTorch: relu'(0) = 0,
    /// leaky'(0) = slope, relu6'(0) = relu6'(6) = 0. `gx` may alias `gy`.
    public static func activationBackward(
        _ f: Activation, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
        gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        var i = 0
        let zero = V(repeating: 0), one = V(repeating: 1)
        switch f {
        case .relu:
            while i + 8 <= n {
                Lanes.store(Lanes.load(gy, i).replacing(with: zero, where: .!(Lanes.load(x, i) .> 0)), gx, i)
                i += 8
            }
            while i < n { gx[i] = x[i] > 0 ? gy[i] : 0; i += 1 }
        case .leakyRelu(let slope):
            let s = V(repeating: slope)
            while i + 8 <= n {
                let g = Lanes.load(gy, i)
                Lanes.store(g.replacing(with: g * s, where: .!(Lanes.load(x, i) .> 0)), gx, i)
                i += 8
            }
            while i < n { gx[i] = x[i] > 0 ? gy[i] : slope * gy[i]; i += 1 }
        case .relu6:
            let six = V(repeating: 6)
            while i + 8 <= n {
                let v = Lanes.load(x, i)
                Lanes.store(Lanes.load(gy, i).replacing(with: zero, where: .!((v .> zero) .& (v .< six))), gx, i)
                i += 8
            }
            while i < n { gx[i] = x[i] > 0 && x[i] < 6 ? gy[i] : 0; i += 1 }
        case .sigmoid:
            while i + 8 <= n {
                let s = Lanes.load(y, i)
                Lanes.store(Lanes.load(gy, i) * s * (one - s), gx, i)
                i += 8
            }
            while i < n { gx[i] = gy[i] * y[i] * (1 - y[i]); i += 1 }
        case .tanh:
            while i + 8 <= n {
                let t = Lanes.load(y, i)
                Lanes.store(Lanes.load(gy, i) * one.addingProduct(-t, t), gx, i)
                i += 8
            }
            while i < n { gx[i] = gy[i] * (1 - y[i] * y[i]); i += 1 }
        }
    }

    /// sigma(x) without overflow for either sign.
    @inline(__always)
    static func sigmoidScalar(_ x: Float) -> Float {
        let e = Foundation.exp(-Swift.abs(x))
        return x >= 0 ? 1 / (1 + e) : e / (1 + e)
    }

    /// sigma(x) per lane: e = e^-|x| <= 1 never overflows; sigma(x) = 1 / (1 + e)
    /// for x >= 0 and e / (1 + e) for x < 0.
    @_transparent
    static func sigmoidLanes(_ v: V) -> V {
        let e = Lanes.exp(-Lanes.abs(v))
        let s = V(repeating: 1) / (V(repeating: 1) + e)
        return s.replacing(with: e * s, where: v .< 0)
    }

    /// tanh per lane: an odd polynomial below |x| = 0.625 (Cephes `tanhf`, where
    /// 1 - e^-2|x| would cancel) and (1 - e) / (1 + e), e = e^-2|x|, above.
    @_transparent
    static func tanhLanes(_ x: V) -> V {
        let a = Lanes.abs(x)
        let z = x * x
        var p = V(repeating: 2.063_908_879_54e-2).addingProduct(V(repeating: -5.704_988_727_45e-3), z)
        p = V(repeating: -5.373_971_555_31e-2).addingProduct(p, z)
        p = V(repeating: 1.333_144_220_36e-1).addingProduct(p, z)
        p = V(repeating: -3.333_328_194_22e-1).addingProduct(p, z)
        let small = x.addingProduct(p * z, x)
        let e = Lanes.exp(V(repeating: -2) * a)
        let one = V(repeating: 1)
        var large = (one - e) / (one + e)
        large.replace(with: -large, where: x .< 0)
        return large.replacing(with: small, where: a .< V(repeating: 0.625))
    }

    // MARK: - References

    /// Plain scalar version of `activationForward`, in Double.
    public static func activationForwardReference(
        _ f: Activation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        for i in 0..<n {
            let v = Double(x[i])
            let r: Double
            switch f {
            case .relu: r = Swift.max(v, 0)
            case .leakyRelu(let slope): r = v > 0 ? v : Double(slope) * v
            case .relu6: r = Swift.min(Swift.max(v, 0), 6)
            case .sigmoid: r = 1 / (1 + Foundation.exp(-v))
            case .tanh: r = Foundation.tanh(v)
            }
            y[i] = Float(r)
        }
    }

    /// Plain scalar version of `activationBackward`; derivatives from x alone.
    public static func activationBackwardReference(
        _ f: Activation, x: UnsafePointer<Float>, gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        for i in 0..<n {
            let v = Double(x[i])
            let d: Double
            switch f {
            case .relu: d = v > 0 ? 1 : 0
            case .leakyRelu(let slope): d = v > 0 ? 1 : Double(slope)
            case .relu6: d = v > 0 && v < 6 ? 1 : 0
            case .sigmoid:
                let s = 1 / (1 + Foundation.exp(-v))
                d = s * (1 - s)
            case .tanh:
                let t = Foundation.tanh(v)
                d = 1 - t * t
            }
            gx[i] = Float(Double(gy[i]) * d)
        }
    }
}
