/// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
/// (Lavin & Gray, 2016, "Fast Algorithms for Convolutional Neural Networks").
///
/// Each 2x2 block of outputs comes from a 4x4 input tile d and a 3x3 filter g:
/// Y = A^T [(G g G^T) ⊙ (B^T d B)] A, 16 multiplications instead of 36. Over
/// channels the elementwise products become 16 matrix products,
/// M_ξ[outC, tiles] = U_ξ[outC, C] * V_ξ[C, tiles] (ξ = the 16 positions of
/// the 4x4 transformed tile), which go to the BLAS: 2.25x fewer multiply-adds
/// than im2col + gemm, for an input and an output transform that are
/// additions only. Errors stay at float32 rounding level for 3x3 filters.
///
/// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
/// G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
/// A^T = [1 1 1 0; 0 1 -1 -1]
extension Kernels {
    /// Whether `conv2dForward` takes this path: 3x3, stride 1, one group, and
    /// enough channels for the 16 products to be worth their transforms.
    public static func winogradApplies(_ g: ConvGeometry, outChannels: Int, groups: Int) -> Bool {
        g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1 && groups == 1
            && g.channels >= 8 && outChannels >= 8 && g.outHeight >= 4 && g.outWidth >= 4
    }

    /// Size of `winogradFilters`' output: 16 * outC * C.
    public static func winogradFilterCount(outChannels: Int, channels: Int) -> Int { 16 * outChannels * channels }

    /// U[ξ, outC, C] = G g G^T for every filter g = weight[o, c] (3x3), the
    /// weights in the Winograd domain (a plan computes them once).
    public static func winogradFilters(_ weight: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                       _ u: UnsafeMutablePointer<Float>) {
        let stride = outChannels * channels
        for o in 0..<outChannels {
            for c in 0..<channels {
                let g = weight + (o * channels + c) * 9
                // t = G g (4x3, rows as vectors), then each row times G^T.
                let g0 = SIMD3(g[0], g[1], g[2]), g1 = SIMD3(g[3], g[4], g[5]), g2 = SIMD3(g[6], g[7], g[8])
                let base = u + o * channels + c
                func put(_ i: Int, _ r: SIMD3<Float>) {
                    base[(4 * i + 0) * stride] = r[0]
                    base[(4 * i + 1) * stride] = 0.5 * (r[0] + r[1] + r[2])
                    base[(4 * i + 2) * stride] = 0.5 * (r[0] - r[1] + r[2])
                    base[(4 * i + 3) * stride] = r[2]
                }
                put(0, g0)
                put(1, 0.5 * (g0 + g1 + g2))
                put(2, 0.5 * (g0 - g1 + g2))
                put(3, g2)
            }
        }
    }

    /// The geometry of the padded copy the tiles read: the model's padding plus
    /// one zero row / column when the output size is odd (a last, partial tile).
    static func winogradPadding(_ g: ConvGeometry) -> ConvGeometry {
        var p = g
        p.padBottom += g.outHeight % 2
        p.padRight += g.outWidth % 2
        return p
    }

    /// One image: out[outC, oh, ow] = conv(x) + bias, then `activation`.
    /// `u` holds `winogradFilters` of the weights.
    static func conv2dWinograd(
        x: UnsafePointer<Float>, filters u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, geometry g: ConvGeometry, outChannels: Int, activation: Activation?,
        threads: Int
    ) {
        let pg = winogradPadding(g)
        let wp = pg.width + pg.padLeft + pg.padRight, hp = pg.height + pg.padTop + pg.padBottom
        let oh = g.outHeight, ow = g.outWidth
        let th = (oh + 1) / 2, tw = (ow + 1) / 2, tiles = th * tw
        let cin = g.channels
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: paddedImageCount(pg))
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * cin * tiles)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * outChannels * tiles)
        defer {
            xp.deallocate()
            v.deallocate()
            m.deallocate()
        }
        paddedImage(x, pg, xp)

        // Three passes: input transform (by tile rows), the 16 products
        // (by position ξ, so that each stays a full-width product), output
        // transform (by tile rows). One thread runs them back to back.
        let l = oh * ow
        func inputTransform(_ tileRows: Range<Int>) {
            // V[ξ, c, t] = B^T d B for the 4x4 tile d at (2ty, 2tx) of channel c.
            let vStep = cin * tiles
            for c in 0..<cin {
                let plane = xp + c * hp * wp
                for ty in tileRows {
                    // Four tiles at a time (lanes = tiles), then the rest one by one.
                    var tx = 0
                    while tx + 4 <= tw {
                        winogradInputQuad(plane + 2 * ty * wp + 2 * tx, wp, v + c * tiles + ty * tw + tx, vStep)
                        tx += 4
                    }
                    // The last few tiles: one more quad ending at the last tile
                    // (the overlap writes the same values again).
                    if tx < tw && tw >= 4 {
                        tx = tw - 4
                        winogradInputQuad(plane + 2 * ty * wp + 2 * tx, wp, v + c * tiles + ty * tw + tx, vStep)
                        tx = tw
                    }
                    while tx < tw {
                        let d = plane + 2 * ty * wp + 2 * tx
                        let r0 = SIMD4(d[0], d[1], d[2], d[3])
                        let r1 = SIMD4(d[wp], d[wp + 1], d[wp + 2], d[wp + 3])
                        let r2 = SIMD4(d[2 * wp], d[2 * wp + 1], d[2 * wp + 2], d[2 * wp + 3])
                        let r3 = SIMD4(d[3 * wp], d[3 * wp + 1], d[3 * wp + 2], d[3 * wp + 3])
                        let base = v + c * tiles + ty * tw + tx
                        // Rows of B^T d, each then times B.
                        func put(_ row: Int, _ q: SIMD4<Float>) {
                            base[(4 * row + 0) * vStep] = q[0] - q[2]
                            base[(4 * row + 1) * vStep] = q[1] + q[2]
                            base[(4 * row + 2) * vStep] = q[2] - q[1]
                            base[(4 * row + 3) * vStep] = q[1] - q[3]
                        }
                        put(0, r0 - r2)
                        put(1, r1 + r2)
                        put(2, r2 - r1)
                        put(3, r1 - r3)
                        tx += 1
                    }
                }
            }

        }
        func products(_ positions: Range<Int>) {
            for xi in positions {
                gemm(transA: false, transB: false, m: outChannels, n: tiles, k: cin,
                     a: u + xi * outChannels * cin, lda: cin, b: v + xi * cin * tiles, ldb: tiles,
                     beta: 0, c: m + xi * outChannels * tiles, ldc: tiles)
            }
        }
        func outputTransform(_ tileRows: Range<Int>) {
            // Y = A^T M A per tile, cropped to the output, plus bias.
            let mStep = outChannels * tiles
            for o in 0..<outChannels {
                let b = bias?[o] ?? 0
                let dst = out + o * l
                for ty in tileRows {
                    let oy = 2 * ty
                    var tx = 0
                    // Four tiles at a time while their 8 columns fit in the output.
                    while tx + 4 <= tw && 2 * tx + 8 <= ow {
                        winogradOutputQuad(m + o * tiles + ty * tw + tx, mStep, b, dst + oy * ow + 2 * tx, ow,
                                           secondRow: oy + 1 < oh)
                        tx += 4
                    }
                    // Even widths: one more quad ending at the last tile (overlapping).
                    if tx < tw && tw >= 4 && ow % 2 == 0 {
                        tx = tw - 4
                        winogradOutputQuad(m + o * tiles + ty * tw + tx, mStep, b, dst + oy * ow + 2 * tx, ow,
                                           secondRow: oy + 1 < oh)
                        tx = tw
                    }
                    while tx < tw {
                        let base = m + o * tiles + ty * tw + tx
                        func row(_ i: Int) -> SIMD4<Float> {
                            SIMD4(base[(4 * i) * mStep], base[(4 * i + 1) * mStep], base[(4 * i + 2) * mStep], base[(4 * i + 3) * mStep])
                        }
                        let q0 = row(0), q1 = row(1), q2 = row(2), q3 = row(3)
                        // A^T M: two rows of 4; then times A: two columns.
                        let a0 = q0 + q1 + q2, a1 = q1 - q2 - q3
                        let ox = 2 * tx
                        dst[oy * ow + ox] = a0[0] + a0[1] + a0[2] + b
                        if ox + 1 < ow { dst[oy * ow + ox + 1] = a0[1] - a0[2] - a0[3] + b }
                        if oy + 1 < oh {
                            dst[(oy + 1) * ow + ox] = a1[0] + a1[1] + a1[2] + b
                            if ox + 1 < ow { dst[(oy + 1) * ow + ox + 1] = a1[1] - a1[2] - a1[3] + b }
                        }
                        tx += 1
                    }
                }
                if let activation {
                    let first = 2 * tileRows.lowerBound, last = Swift.min(oh, 2 * tileRows.upperBound)
                    activationForward(activation, dst + first * ow, dst + first * ow, (last - first) * ow)
                }
            }
        }
        let chunks = Swift.min(threads, th)
        if chunks > 1 {
            parallelChunks(th, chunks: chunks) { _, rows in inputTransform(rows) }
            parallelChunks(16, chunks: Swift.min(threads, 16)) { _, positions in products(positions) }
            parallelChunks(th, chunks: chunks) { _, rows in outputTransform(rows) }
        } else {
            inputTransform(0..<th)
            products(0..<16)
            outputTransform(0..<th)
        }
    }

    /// The input transform of four horizontally adjacent tiles, one per lane:
    /// d points at the first tile's top-left (row stride wp); writes the 16
    /// values of each tile to v[ξ * step + k], k = tile 0...3.
    @inline(__always)
    static func winogradInputQuad(_ d: UnsafePointer<Float>, _ wp: Int, _ v: UnsafeMutablePointer<Float>, _ step: Int) {
        // Column j of the four tiles: lanes 2k + j of the row (even / odd halves).
        func columns(_ r: Int) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
            let a = UnsafeRawPointer(d + r * wp).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(d + r * wp + 2).loadUnaligned(as: SIMD8<Float>.self)
            return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
        }
        let d0 = columns(0), d1 = columns(1), d2 = columns(2), d3 = columns(3)
        // B^T d, row by row (each a 4-tuple of columns), then each row times B.
        func put(_ row: Int, _ q: (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)) {
            store(q.0 - q.2, v + (4 * row) * step)
            store(q.1 + q.2, v + (4 * row + 1) * step)
            store(q.2 - q.1, v + (4 * row + 2) * step)
            store(q.1 - q.3, v + (4 * row + 3) * step)
        }
        put(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
        put(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
        put(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
        put(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
    }

    /// The output transform of four adjacent tiles (lanes): m points at the
    /// first tile's M values (position stride `step`); writes 2 rows of 8
    /// outputs at dst (row stride ow), the second only when `secondRow`.
    @inline(__always)
    static func winogradOutputQuad(_ m: UnsafePointer<Float>, _ step: Int, _ bias: Float,
                                   _ dst: UnsafeMutablePointer<Float>, _ ow: Int, secondRow: Bool) {
        func q(_ i: Int, _ j: Int) -> SIMD4<Float> { UnsafeRawPointer(m + (4 * i + j) * step).loadUnaligned(as: SIMD4<Float>.self) }
        let b = SIMD4<Float>(repeating: bias)
        var a0 = (q(0, 0), q(0, 1), q(0, 2), q(0, 3))
        a0 = (a0.0 + q(1, 0) + q(2, 0), a0.1 + q(1, 1) + q(2, 1), a0.2 + q(1, 2) + q(2, 2), a0.3 + q(1, 3) + q(2, 3))
        store(interleave(a0.0 + a0.1 + a0.2 + b, a0.1 - a0.2 - a0.3 + b), dst)
        guard secondRow else { return }
        let a1 = (q(1, 0) - q(2, 0) - q(3, 0), q(1, 1) - q(2, 1) - q(3, 1), q(1, 2) - q(2, 2) - q(3, 2), q(1, 3) - q(2, 3) - q(3, 3))
        store(interleave(a1.0 + a1.1 + a1.2 + b, a1.1 - a1.2 - a1.3 + b), dst + ow)
    }

    @inline(__always)
    static func interleave(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD8<Float> {
        SIMD8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
    }

    @inline(__always)
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}
