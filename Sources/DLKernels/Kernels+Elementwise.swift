/// SIMD elementwise loops. Each loop handles 8 lanes at a time and a scalar tail.
extension Kernels {
    public typealias V = SIMD8<Float>

    /// y[i] = f(x[i]) for a vector and scalar form of the same function.
    @inlinable
    public static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
        _ fv: (V) -> V, _ fs: (Float) -> Float
    ) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while i + 8 <= n {
            let v = rx.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            ry.storeBytes(of: fv(v), toByteOffset: i * 4, as: V.self)
            i += 8
        }
        while i < n { y[i] = fs(x[i]); i += 1 }
    }

    /// z[i] = f(x[i], y[i]).
    @inlinable
    public static func zip(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ n: Int,
        _ fv: (V, V) -> V, _ fs: (Float, Float) -> Float
    ) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), rz = UnsafeMutableRawPointer(z)
        while i + 8 <= n {
            let a = rx.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let b = ry.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            rz.storeBytes(of: fv(a, b), toByteOffset: i * 4, as: V.self)
            i += 8
        }
        while i < n { z[i] = fs(x[i], y[i]); i += 1 }
    }

    /// w[i] = f(x[i], y[i], z[i]).
    @inlinable
    public static func zip3(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafePointer<Float>,
        _ w: UnsafeMutablePointer<Float>, _ n: Int,
        _ fv: (V, V, V) -> V, _ fs: (Float, Float, Float) -> Float
    ) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), rz = UnsafeRawPointer(z)
        let rw = UnsafeMutableRawPointer(w)
        while i + 8 <= n {
            let a = rx.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let b = ry.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let c = rz.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            rw.storeBytes(of: fv(a, b, c), toByteOffset: i * 4, as: V.self)
            i += 8
        }
        while i < n { w[i] = fs(x[i], y[i], z[i]); i += 1 }
    }

    /// y += alpha * x.
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        zip(x, y, y, n, { a, b in b.addingProduct(a, V(repeating: alpha)) }, { a, b in b + alpha * a })
    }

    /// y += x.
    @inlinable
    public static func accumulate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        zip(x, y, y, n, { a, b in a + b }, { a, b in a + b })
    }

    /// Sum of x[0..<n] with a SIMD accumulator (Double tail for accuracy is not needed at Float32 tolerances).
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        let rx = UnsafeRawPointer(x)
        while i + 8 <= n {
            acc += rx.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Dot product of two vectors.
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while i + 8 <= n {
            acc = acc.addingProduct(
                rx.loadUnaligned(fromByteOffset: i * 4, as: V.self),
                ry.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }
}
