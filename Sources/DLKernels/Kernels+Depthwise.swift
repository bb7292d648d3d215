extension SIMD8 where Scalar == Float {
    /// Lanes i >= first (as a mask for `replacing(with:where:)`).
    @inline(__always)
    static func indexMask(from first: Int) -> SIMDMask<SIMD8<Int32>> {
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: first))
    }
}

/// Depthwise convolution (groups == in channels) by direct loops: every
/// output channel is one input plane convolved with one kh x kw filter, too
/// little work per channel for im2col + gemm to pay. Output channel co reads
/// input channel co / multiplier (PyTorch's out_channels = k * in_channels).
///
/// Each plane is first copied into a zero-padded scratch plane, so the inner
/// loops have no bounds checks: 8 outputs are accumulated in a SIMD register
/// over all kh * kw taps and stored once (horizontal strides 1 and 2 load
/// vectors; others are scalar). For stride 1 the input gradient is the same
/// correlation, of the padded output gradient with the flipped filter; for
/// larger strides it is a scatter. Images are split across threads.
/// The reference is `conv2dReference` with groups == channels.
extension Kernels {
    /// out[N, C*m, oh, ow] = depthwise(x[N, C, H, W], weight[C*m, 1, kh, kw]) + bias[C*m].
    public static func depthwiseForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry, multiplier m: Int = 1
    ) {
        let cout = g.channels * m, kk = g.kernelH * g.kernelW
        let padded = PaddedPlane(height: g.height + g.padTop + g.padBottom, width: g.width + g.padLeft + g.padRight)
        parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
            let xp = padded.allocate()
            defer { xp.deallocate() }
            for n in images {
                for c in 0..<g.channels {
                    padded.fill(xp, from: x + (n * g.channels + c) * g.inputPlane, g.height, g.width, top: g.padTop, left: g.padLeft)
                    for co in (c * m)..<((c + 1) * m) {
                        correlatePlane(xp, padded.width, weight + co * kk, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                       g.outHeight, g.outWidth, bias: bias?[co] ?? 0, accumulate: false,
                                       out + (n * cout + co) * g.outputPlane)
                    }
                }
            }
        }
    }

    /// Gradients of `depthwiseForward` given gradOut[N, C*m, oh, ow], added into
    /// gradInput[N, C, H, W], gradWeight[C*m, 1, kh, kw], gradBias[C*m].
    public static func depthwiseBackward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, geometry g: ConvGeometry, multiplier m: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        let cout = g.channels * m, kh = g.kernelH, kw = g.kernelW, kk = kh * kw
        let oh = g.outHeight, ow = g.outWidth
        let padded = PaddedPlane(height: g.height + g.padTop + g.padBottom, width: g.width + g.padLeft + g.padRight)
        // Stride 1: gradOut placed so that a valid correlation with the flipped
        // filter yields the H x W input gradient (row r holds gradOut row r - (kh-1-padTop)).
        let unitStride = g.strideH == 1 && g.strideW == 1
        let gpad = PaddedPlane(height: g.height + kh - 1, width: g.width + kw - 1)
        let chunks = chunkCount(batch)
        let dW = ChunkAccumulators(target: gradWeight, count: cout * kk, chunks: chunks)
        let dB = ChunkAccumulators(target: gradBias, count: cout, chunks: chunks)
        parallelChunks(batch, chunks: chunks) { chunk, images in
            let gradWeight = dW.pointer(chunk), gradBias = dB.pointer(chunk)
            let xp = padded.allocate(), gp = gpad.allocate()
            let flipped = UnsafeMutablePointer<Float>.allocate(capacity: kk)
            defer { xp.deallocate(); gp.deallocate(); flipped.deallocate() }
            for n in images {
                for c in 0..<g.channels {
                    let inPlane = (n * g.channels + c) * g.inputPlane
                    if gradWeight != nil {
                        padded.fill(xp, from: x + inPlane, g.height, g.width, top: g.padTop, left: g.padLeft)
                    }
                    for co in (c * m)..<((c + 1) * m) {
                        let go = gradOut + (n * cout + co) * g.outputPlane
                        if let gradBias { gradBias[co] += sum(go, g.outputPlane) }
                        if let gradWeight {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    gradWeight[co * kk + ki * kw + kj] += correlateTap(
                                        go, oh, ow, xp + ki * padded.width + kj, padded.width, g.strideH, g.strideW)
                                }
                            }
                        }
                        guard let gradInput else { continue }
                        let w = weight + co * kk
                        if unitStride {
                            for i in 0..<kk { flipped[i] = w[kk - 1 - i] }
                            gpad.fill(gp, from: go, oh, ow, top: kh - 1 - g.padTop, left: kw - 1 - g.padLeft)
                            correlatePlane(gp, gpad.width, flipped, kh, kw, 1, 1, g.height, g.width,
                                           bias: 0, accumulate: true, gradInput + inPlane)
                        } else {
                            depthwiseScatter(go, w, gradInput + inPlane, g)
                        }
                    }
                }
            }
        }
        dW.finish(chunks: chunks)
        dB.finish(chunks: chunks)
    }

    /// A zero-padded copy of one plane, with slack after the last row so that
    /// 16-wide loads near the end stay inside the buffer.
    struct PaddedPlane {
        let height: Int, width: Int
        var capacity: Int { height * width + 16 }

        func allocate() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
            p.initialize(repeating: 0, count: capacity)
            return p
        }

        /// Copies src[h, w] into `dst` at row `top`, column `left` (either may be
        /// negative: rows/columns falling outside are dropped). Only that window
        /// is written; the rest stays as `allocate` zeroed it, which is right as
        /// long as every fill of one buffer uses the same h, w, top and left.
        func fill(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, _ h: Int, _ w: Int, top: Int, left: Int) {
            let c0 = Swift.max(0, -left), c1 = Swift.min(w, width - left)
            let r0 = Swift.max(0, -top), r1 = Swift.min(h, height - top)
            guard c1 > c0 && r1 > r0 else { return }
            for r in r0..<r1 {
                (dst + (r + top) * width + left + c0).update(from: src + r * w + c0, count: c1 - c0)
            }
        }
    }

    /// dst[oy, ox] = (accumulate ? dst : bias) + sum over taps of
    /// w[ki, kj] * src[oy*sh + ki, ox*sw + kj], for a padded source with rows of
    /// `srcWidth` values. 8 outputs per SIMD register for sw = 1 or 2; a ragged
    /// row end is one more block ending at the last column, stored only in its
    /// new lanes. Rows shorter than 8, and other strides, are scalar.
    @inline(__always)
    static func correlatePlane(
        _ src: UnsafePointer<Float>, _ srcWidth: Int, _ w: UnsafePointer<Float>, _ kh: Int, _ kw: Int,
        _ sh: Int, _ sw: Int, _ oh: Int, _ ow: Int, bias: Float, accumulate: Bool, _ dst: UnsafeMutablePointer<Float>
    ) {
        let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
        let simd = sw <= 2 && ow >= 8
        let full = simd ? ow / 8 * 8 : 0
        let tailMask = V.indexMask(from: full - (ow - 8))
        // Outputs [ox, ox + 8) of the row starting at dst[drow] / src[row].
        @inline(__always) func block(_ row: Int, _ drow: Int, _ ox: Int) -> V {
            var acc = accumulate ? rd.loadUnaligned(fromByteOffset: 4 * (drow + ox), as: V.self) : V(repeating: bias)
            for ki in 0..<kh {
                let base = row + ki * srcWidth + ox * sw
                for kj in 0..<kw {
                    let v: V = sw == 1
                        ? rs.loadUnaligned(fromByteOffset: 4 * (base + kj), as: V.self)
                        : rs.loadUnaligned(fromByteOffset: 4 * (base + kj), as: SIMD16<Float>.self).evenHalf
                    acc = acc.addingProduct(v, V(repeating: w[ki * kw + kj]))
                }
            }
            return acc
        }
        for oy in 0..<oh {
            let row = oy * sh * srcWidth, drow = oy * ow
            var ox = 0
            while ox < full {
                rd.storeBytes(of: block(row, drow, ox), toByteOffset: 4 * (drow + ox), as: V.self)
                ox += 8
            }
            if simd && full < ow {
                let at = drow + ow - 8
                let old = rd.loadUnaligned(fromByteOffset: 4 * at, as: V.self)
                rd.storeBytes(of: old.replacing(with: block(row, drow, ow - 8), where: tailMask), toByteOffset: 4 * at, as: V.self)
                continue
            }
            while ox < ow {
                var s = accumulate ? dst[drow + ox] : bias
                for ki in 0..<kh {
                    let base = row + ki * srcWidth + ox * sw
                    for kj in 0..<kw { s += w[ki * kw + kj] * src[base + kj] }
                }
                dst[drow + ox] = s
                ox += 1
            }
        }
    }

    /// sum over oy, ox of go[oy, ox] * src[oy*sh, ox*sw] (src already offset by
    /// the tap); SIMD as in `correlatePlane`.
    @inline(__always)
    static func correlateTap(
        _ go: UnsafePointer<Float>, _ oh: Int, _ ow: Int, _ src: UnsafePointer<Float>, _ srcWidth: Int, _ sh: Int, _ sw: Int
    ) -> Float {
        let rs = UnsafeRawPointer(src), rg = UnsafeRawPointer(go)
        let simd = sw <= 2 && ow >= 8
        let full = simd ? ow / 8 * 8 : 0
        let tailMask = V.indexMask(from: full - (ow - 8))
        @inline(__always) func load(_ row: Int, _ ox: Int) -> V {
            sw == 1
                ? rs.loadUnaligned(fromByteOffset: 4 * (row + ox), as: V.self)
                : rs.loadUnaligned(fromByteOffset: 4 * (row + 2 * ox), as: SIMD16<Float>.self).evenHalf
        }
        var acc = V(repeating: 0)
        var tail: Float = 0
        for oy in 0..<oh {
            let row = oy * sh * srcWidth, grow = oy * ow
            var ox = 0
            while ox < full {
                acc = acc.addingProduct(load(row, ox), rg.loadUnaligned(fromByteOffset: 4 * (grow + ox), as: V.self))
                ox += 8
            }
            if simd && full < ow {
                let p = load(row, ow - 8) * rg.loadUnaligned(fromByteOffset: 4 * (grow + ow - 8), as: V.self)
                acc += V(repeating: 0).replacing(with: p, where: tailMask)
                continue
            }
            while ox < ow {
                tail += go[grow + ox] * src[row + ox * sw]
                ox += 1
            }
        }
        return acc.sum() + tail
    }

    /// Input gradient of one plane for strides above 1, by scattering:
    /// dx[oy*sh - pt + ki, ox*sw - pl + kj] += w[ki, kj] * go[oy, ox].
    static func depthwiseScatter(
        _ go: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, width = g.width, sh = g.strideH, sw = g.strideW
        for ki in 0..<g.kernelH {
            let (oyLo, oyHi) = ConvGeometry.validRange(n: g.height, out: oh, stride: sh, pad: g.padTop, k: ki)
            for kj in 0..<g.kernelW {
                let (oxLo, oxHi) = ConvGeometry.validRange(n: width, out: ow, stride: sw, pad: g.padLeft, k: kj)
                let cnt = oxHi - oxLo
                if cnt == 0 { continue }
                let wv = w[ki * g.kernelW + kj]
                for oy in oyLo..<oyHi {
                    let d = dx + (oy * sh - g.padTop + ki) * width + (oxLo * sw - g.padLeft + kj)
                    let s = go + oy * ow + oxLo
                    if sw == 1 {
                        axpy(wv, s, d, cnt)
                    } else {
                        for i in 0..<cnt { d[i * sw] += wv * s[i] }
                    }
                }
            }
        }
    }
}
