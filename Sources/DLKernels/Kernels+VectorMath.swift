/// Vector helpers shared by the activation, softmax, batch-norm and loss
/// kernels: unaligned 8-lane loads and stores, a vector exp and a max.
///
/// Internal on purpose: layers call the kernels, never these.
enum Lanes {
    typealias V = Kernels.V

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
    }

    /// The first `count` (< 8) values at p + i, the other lanes `fill`: lets a
    /// row's tail run through the same vector code as its body.
    @inline(__always)
    static func loadTail(_ p: UnsafePointer<Float>, _ i: Int, _ count: Int, fill: Float) -> V {
        var v = V(repeating: fill)
        for l in 0..<count { v[l] = p[i + l] }
        return v
    }

    /// Stores the first `count` (< 8) lanes of v at p + i.
    @inline(__always)
    static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ count: Int) {
        for l in 0..<count { p[i + l] = v[l] }
    }

    /// Sum of the lanes, always in the same order.
    @inline(__always)
    static func sum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        return (a[0] + a[2]) + (a[1] + a[3])
    }

    /// Largest lane.
    @inline(__always)
    static func horizontalMax(_ v: V) -> Float {
        let a = maximum4(v.lowHalf, v.highHalf)
        return Swift.max(Swift.max(a[0], a[1]), Swift.max(a[2], a[3]))
    }

    @inline(__always)
    static func maximum4(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { a.replacing(with: b, where: b .> a) }

    /// e^x per lane, after Cephes `expf`: x = n ln2 + r with |r| <= ln2 / 2, a
    /// degree-6 polynomial for e^r, and 2^n built in the exponent bits.
    /// Relative error about 2 ulp for -87.33 <= x <= 88.37; exactly 0 below that
    /// range (expf goes through the subnormals first) and +inf above it (expf
    /// overflows at 88.72). NaN stays NaN. The kernels only call it with x <= 0.
    @_transparent  // @inline(__always) alone leaves it out of line in the callers
    static func exp(_ x: V) -> V {
        let hi = V(repeating: 88.376_262_66), lo = V(repeating: -87.336_54)
        let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick: the
        // low mantissa bits of t then hold n as an integer.
        let magic = V(repeating: 12_582_912)
        let t = magic.addingProduct(xc, V(repeating: 1.442_695_04))
        let n = t - magic
        // r = x - n ln2, with ln2 in two parts (Cody-Waite) so r stays exact.
        var r = xc.addingProduct(n, V(repeating: -0.693_359_375))
        r = r.addingProduct(n, V(repeating: 2.121_944_4e-4))
        // e^r = 1 + r + r^2 P(r), Horner with fused multiply-adds.
        var p = V(repeating: 1.398_199_95e-3).addingProduct(V(repeating: 1.987_569_15e-4), r)
        p = V(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_59e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_12e-1).addingProduct(p, r)
        var y = (r + V(repeating: 1)).addingProduct(p, r * r)
        // 2^n: n + 127 in the exponent field; n is in [-126, 127] after the clamp.
        let nBits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: V.self)
        y *= scale
        y.replace(with: 0, where: x .< lo)
        y.replace(with: .infinity, where: x .> hi)
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// Lane-wise max and min as compare-and-select. (The standard library's
    /// generic `pointwiseMax`, `pointwiseMin` and `clamped` handle NaN per lane
    /// in a scalar loop and run 20x slower.) A NaN in `a` stays.
    @inline(__always)
    static func maximum(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .> a) }

    @inline(__always)
    static func minimum(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }

    /// |x| per lane: the sign bit cleared.
    @inline(__always)
    static func abs(_ x: V) -> V {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
    }

    /// Largest value of x[0..<n] (n >= 1).
    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: -.infinity)
        var i = 0
        while i + 8 <= n { acc = maximum(acc, load(x, i)); i += 8 }
        if i < n { acc = maximum(acc, loadTail(x, i, n - i, fill: -.infinity)) }
        return horizontalMax(acc)
    }
}
