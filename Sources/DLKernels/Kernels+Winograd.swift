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

        // Bands of tile rows, one per thread; each transforms its tiles,
        // multiplies its columns of V and transforms its columns of M back.
        let l = oh * ow
        parallelChunks(th, chunks: Swift.min(threads, th)) { _, tileRows in
            let t0 = tileRows.lowerBound * tw, t1 = tileRows.upperBound * tw
            // V[ξ, c, t] = B^T d B for the 4x4 tile d at (2ty, 2tx) of channel c.
            let vStep = cin * tiles
            for c in 0..<cin {
                let plane = xp + c * hp * wp
                for ty in tileRows {
                    for tx in 0..<tw {
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
                    }
                }
            }

            // M_ξ = U_ξ V_ξ on this band's columns: [outC, C] x [C, t1 - t0].
            for xi in 0..<16 {
                gemm(transA: false, transB: false, m: outChannels, n: t1 - t0, k: cin,
                     a: u + xi * outChannels * cin, lda: cin, b: v + xi * cin * tiles + t0, ldb: tiles,
                     beta: 0, c: m + xi * outChannels * tiles + t0, ldc: tiles)
            }

            // Y = A^T M A per tile, cropped to the output, plus bias.
            let mStep = outChannels * tiles
            for o in 0..<outChannels {
                let b = bias?[o] ?? 0
                let dst = out + o * l
                for ty in tileRows {
                    for tx in 0..<tw {
                        let base = m + o * tiles + ty * tw + tx
                        func row(_ i: Int) -> SIMD4<Float> {
                            SIMD4(base[(4 * i) * mStep], base[(4 * i + 1) * mStep], base[(4 * i + 2) * mStep], base[(4 * i + 3) * mStep])
                        }
                        let q0 = row(0), q1 = row(1), q2 = row(2), q3 = row(3)
                        // A^T M: two rows of 4; then times A: two columns.
                        let a0 = q0 + q1 + q2, a1 = q1 - q2 - q3
                        let oy = 2 * ty, ox = 2 * tx
                        dst[oy * ow + ox] = a0[0] + a0[1] + a0[2] + b
                        if ox + 1 < ow { dst[oy * ow + ox + 1] = a0[1] - a0[2] - a0[3] + b }
                        if oy + 1 < oh {
                            dst[(oy + 1) * ow + ox] = a1[0] + a1[1] + a1[2] + b
                            if ox + 1 < ow { dst[(oy + 1) * ow + ox + 1] = a1[1] - a1[2] - a1[3] + b }
                        }
                    }
                }
                if let activation {
                    let first = 2 * tileRows.lowerBound, last = Swift.min(oh, 2 * tileRows.upperBound)
                    activationForward(activation, dst + first * ow, dst + first * ow, (last - first) * ow)
                }
            }
        }
    }
}
