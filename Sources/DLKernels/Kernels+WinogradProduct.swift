/// The 16 products of a Winograd block, M_ξ[o, lane] = Σ_c U_ξ[o, c] V_ξ[c, lane],
/// by register-blocked micro-kernels with 8 accumulators each, enough to
/// cover the fused multiply-add latency: 4 output channels x 16 lanes, or 8
/// output channels x 8 lanes. The filters come packed by `winogradFilters`
/// (u[ξ][o / 8][c][o % 8]), the block's V as v[ξ][c][lanes] and M as
/// m[o][ξ][lanes] (each channel's 16 positions side by side, for the
/// output transform), so every load is sequential and nothing is packed
/// per call, as it would be through a BLAS.
extension Kernels {
    /// All `positions` ξ (16, or 36 for F(4x4, 3x3)) of one block: `rows`
    /// (a multiple of 8) output channels, `channels` input channels, 8 or 16 lanes.
    static func winogradProducts(u: UnsafePointer<Float>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                                 rows: Int, channels: Int, lanes: Int, positions: Int = 16) {
        let block = winogradRowBlock
        let stride = positions * lanes
        for xi in 0..<positions {
            let ux = u + xi * rows * channels, vx = v + xi * winogradVStride(channels: channels, lanes: lanes)
            let mx = m + xi * lanes
            for r in Swift.stride(from: 0, to: rows, by: block) {
                let ur = ux + r * channels
                if lanes == 16 {
                    winogradKernel4x16(ur, vx, channels, mx + r * stride, stride)
                    winogradKernel4x16(ur + 4, vx, channels, mx + (r + 4) * stride, stride)
                } else {
                    winogradKernel8x8(ur, vx, channels, mx + r * stride, stride)
                }
            }
        }
    }

    /// m[s r ..< +16] = Σ_c u[8c + r] v[16 c ..< +16] for r = 0...3 (s: the
    /// stride of M's rows).
    @inline(__always)
    static func winogradKernel4x16(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ channels: Int,
                                   _ m: UnsafeMutablePointer<Float>, _ s: Int) {
        typealias V8 = SIMD8<Float>
        var a0 = V8(), b0 = V8(), a1 = V8(), b1 = V8(), a2 = V8(), b2 = V8(), a3 = V8(), b3 = V8()
        var up = u, vp = UnsafeRawPointer(v)
        for _ in 0..<channels {
            let lo = vp.loadUnaligned(as: V8.self), hi = vp.loadUnaligned(fromByteOffset: 32, as: V8.self)
            let w0 = V8(repeating: up[0]), w1 = V8(repeating: up[1])
            a0 = a0.addingProduct(w0, lo); b0 = b0.addingProduct(w0, hi)
            a1 = a1.addingProduct(w1, lo); b1 = b1.addingProduct(w1, hi)
            let w2 = V8(repeating: up[2]), w3 = V8(repeating: up[3])
            a2 = a2.addingProduct(w2, lo); b2 = b2.addingProduct(w2, hi)
            a3 = a3.addingProduct(w3, lo); b3 = b3.addingProduct(w3, hi)
            up += 8
            vp += 64
        }
        store(a0, m); store(b0, m + 8)
        store(a1, m + s); store(b1, m + s + 8)
        store(a2, m + 2 * s); store(b2, m + 2 * s + 8)
        store(a3, m + 3 * s); store(b3, m + 3 * s + 8)
    }

    /// m[s r ..< +8] = Σ_c u[8c + r] v[8 c ..< +8] for r = 0...7.
    @inline(__always)
    static func winogradKernel8x8(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ channels: Int,
                                  _ m: UnsafeMutablePointer<Float>, _ s: Int) {
        typealias V8 = SIMD8<Float>
        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), a4 = V8(), a5 = V8(), a6 = V8(), a7 = V8()
        var up = u, vp = UnsafeRawPointer(v)
        for _ in 0..<channels {
            let x = vp.loadUnaligned(as: V8.self)
            a0 = a0.addingProduct(V8(repeating: up[0]), x)
            a1 = a1.addingProduct(V8(repeating: up[1]), x)
            a2 = a2.addingProduct(V8(repeating: up[2]), x)
            a3 = a3.addingProduct(V8(repeating: up[3]), x)
            a4 = a4.addingProduct(V8(repeating: up[4]), x)
            a5 = a5.addingProduct(V8(repeating: up[5]), x)
            a6 = a6.addingProduct(V8(repeating: up[6]), x)
            a7 = a7.addingProduct(V8(repeating: up[7]), x)
            up += 8
            vp += 32
        }
        store(a0, m); store(a1, m + s); store(a2, m + 2 * s); store(a3, m + 3 * s)
        store(a4, m + 4 * s); store(a5, m + 5 * s); store(a6, m + 6 * s); store(a7, m + 7 * s)
    }
}
