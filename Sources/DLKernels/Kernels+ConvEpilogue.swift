/// What follows the sums of the fast convolution kernels (Winograd F(2x2)
/// and F(4x4), direct), in one place: bias, the residual shortcut, ReLU in
/// the same pass, a store cropped to the image, and any other activation
/// over the stored values.
struct ConvEpilogue {
    typealias V8 = SIMD8<Float>
    let out: UnsafeMutablePointer<Float>
    let bias: UnsafePointer<Float>?
    /// Added before the activation, in the output's layout.
    let residual: UnsafePointer<Float>?
    let activation: Kernels.Activation?
    let relu: Bool

    init(out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
         activation: Kernels.Activation?) {
        self.out = out
        self.bias = bias
        self.residual = residual
        self.activation = activation
        relu = activation == .relu
    }

    /// Output channel o's bias in every lane.
    @inline(__always)
    func bias(_ o: Int) -> V8 { V8(repeating: bias?[o] ?? 0) }

    /// out[at ..< at + n] = the first n (0...8) lanes of y + b, plus the
    /// residual, ReLU applied.
    @inline(__always)
    func store(_ y: V8, _ b: V8, at: Int, _ n: Int) {
        var y = y + b
        if let residual { y += Kernels.loadFirst(residual + at, n) }
        if relu { y = y.replacing(with: 0, where: y .< 0) }
        Kernels.storeFirst(y, out + at, n)
    }

    /// An activation other than ReLU over out[at ..< at + n], once stored.
    @inline(__always)
    func finish(at: Int, _ n: Int) {
        if let activation, !relu { Kernels.activationForward(activation, out + at, out + at, n) }
    }
}

extension Kernels {
    @inline(__always)
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The first n (0...8) floats at p, zeros after (never reading past p + n).
    @inline(__always)
    static func loadFirst(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
        if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    /// Stores the first n (0...8) lanes of v at dst.
    @inline(__always)
    static func storeFirst(_ v: SIMD8<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 8 {
            store(v, dst)
            return
        }
        var i = 0
        if n >= 4 {
            store(v.lowHalf, dst)
            i = 4
        }
        while i < n {
            dst[i] = v[i]
            i += 1
        }
    }
}
