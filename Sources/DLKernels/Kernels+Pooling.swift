/// Max, average and global average pooling over NCHW planes. `planes` is
/// N * C; each plane is pooled independently with the window of `g`
/// (g.channels is ignored).
extension Kernels {
    /// Max pooling: out[plane, oh, ow] = max of the window, padding counting as
    /// -inf (PyTorch). `argmax[plane, oh, ow]` receives the winner's offset
    /// inside its input plane (iy * W + ix). PyTorch's rule picks the winner:
    /// take v when v > best or v is NaN, so ties keep the first in row-major
    /// window order and a NaN propagates. Branch-free inner loop (the
    /// comparison is unpredictable); planes are split across threads.
    public static func maxPoolForward(
        x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
        planes: Int, geometry g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, h = g.height, w = g.width
        let twoByTwo = g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2
            && g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0
        parallelChunks(planes, chunks: chunkCount(planes)) { _, range in
            for p in range {
                let src = x + p * h * w
                let dst = out + p * oh * ow, idx = argmax + p * oh * ow
                // The common 2x2 stride-2 window: whole rows in SIMD, 8 outputs per
                // step, when a row has at least 8; otherwise the scalar loop below.
                var simdColumns = 0
                if twoByTwo && ow >= 8 {
                    simdColumns = ow
                    for oy in 0..<oh { maxPool2x2Row(src, w, oy, ow, dst + oy * ow, idx + oy * ow) }
                }
                for oy in 0..<oh {
                    let y0 = oy * g.strideH - g.padTop
                    let yLo = Swift.max(y0, 0), yHi = Swift.min(y0 + g.kernelH, h)
                    for ox in simdColumns..<ow {
                        let x0 = ox * g.strideW - g.padLeft
                        let xLo = Swift.max(x0, 0), xHi = Swift.min(x0 + g.kernelW, w)
                        var best = -Float.infinity, at = yLo * w + xLo
                        for iy in yLo..<yHi {
                            for ix in xLo..<xHi {
                                let i = iy * w + ix
                                let v = src[i]
                                // (v > best) || v.isNaN, without branches: NaN > b is
                                // false, so the two never hold together and != is "or".
                                let take = (v > best) != (v != v)
                                best = take ? v : best
                                at = take ? i : at
                            }
                        }
                        dst[oy * ow + ox] = best
                        idx[oy * ow + ox] = Int32(truncatingIfNeeded: at)
                    }
                }
            }
        }
    }

    /// Outputs [0, columns) of row `oy` of a 2x2 stride-2 max pool, 8 at a time
    /// (columns >= 8 and 2 * columns <= w); a ragged end is done as the last 8
    /// columns again (the same values are rewritten). Same rule as the scalar
    /// loop, in window order (0,0), (0,1), (1,0), (1,1).
    @inline(__always)
    static func maxPool2x2Row(
        _ src: UnsafePointer<Float>, _ w: Int, _ oy: Int, _ columns: Int,
        _ dst: UnsafeMutablePointer<Float>, _ idx: UnsafeMutablePointer<Int32>
    ) {
        typealias F16 = SIMD16<Float>
        typealias I8 = SIMD8<Int32>
        let r0 = UnsafeRawPointer(src + 2 * oy * w), r1 = UnsafeRawPointer(src + (2 * oy + 1) * w)
        let lanes = I8(0, 2, 4, 6, 8, 10, 12, 14)
        let rd = UnsafeMutableRawPointer(dst), ri = UnsafeMutableRawPointer(idx)
        var ox = 0
        while ox < columns {
            if ox + 8 > columns { ox = columns - 8 }
            let a = r0.loadUnaligned(fromByteOffset: 8 * ox, as: F16.self)
            let b = r1.loadUnaligned(fromByteOffset: 8 * ox, as: F16.self)
            let base = lanes &+ I8(repeating: Int32(truncatingIfNeeded: 2 * oy * w + 2 * ox))
            var best = a.evenHalf, at = base
            @inline(__always) func consider(_ v: SIMD8<Float>, _ offset: Int) {
                let take = (v .> best) .| (v .!= v)
                best.replace(with: v, where: take)
                at.replace(with: base &+ I8(repeating: Int32(truncatingIfNeeded: offset)), where: take)
            }
            consider(a.oddHalf, 1)
            consider(b.evenHalf, w)
            consider(b.oddHalf, w + 1)
            rd.storeBytes(of: best, toByteOffset: 4 * ox, as: SIMD8<Float>.self)
            ri.storeBytes(of: at, toByteOffset: 4 * ox, as: I8.self)
            ox += 8
        }
    }

    /// Max pooling backward: each output gradient goes to its argmax (added into gradInput).
    public static func maxPoolBackward(
        gradOut: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, gradInput: UnsafeMutablePointer<Float>,
        planes: Int, geometry g: ConvGeometry
    ) {
        let l = g.outputPlane, plane = g.inputPlane
        parallelChunks(planes, chunks: chunkCount(planes)) { _, range in
            for p in range {
                let go = gradOut + p * l, idx = argmax + p * l, dx = gradInput + p * plane
                for i in 0..<l { dx[Int(idx[i])] += go[i] }
            }
        }
    }

    /// Average pooling: out = sum of the window / (kh * kw); padding counts as
    /// zeros in the sum and in the divisor (PyTorch's count_include_pad=True).
    public static func avgPoolForward(
        x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, planes: Int, geometry g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, h = g.height, w = g.width
        let scale = 1 / Float(g.kernelH * g.kernelW)
        parallelChunks(planes, chunks: chunkCount(planes)) { _, range in
            for p in range {
                let src = x + p * h * w, dst = out + p * oh * ow
                for oy in 0..<oh {
                    let y0 = oy * g.strideH - g.padTop
                    let yLo = Swift.max(y0, 0), yHi = Swift.min(y0 + g.kernelH, h)
                    for ox in 0..<ow {
                        let x0 = ox * g.strideW - g.padLeft
                        let xLo = Swift.max(x0, 0), xHi = Swift.min(x0 + g.kernelW, w)
                        var s: Float = 0
                        for iy in yLo..<yHi { for ix in xLo..<xHi { s += src[iy * w + ix] } }
                        dst[oy * ow + ox] = s * scale
                    }
                }
            }
        }
    }

    /// Average pooling backward: each output gradient / (kh * kw) is added to
    /// every input of its window.
    public static func avgPoolBackward(
        gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, planes: Int, geometry g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, h = g.height, w = g.width
        let scale = 1 / Float(g.kernelH * g.kernelW)
        parallelChunks(planes, chunks: chunkCount(planes)) { _, range in
            for p in range {
                let go = gradOut + p * oh * ow, dx = gradInput + p * h * w
                for oy in 0..<oh {
                    let y0 = oy * g.strideH - g.padTop
                    let yLo = Swift.max(y0, 0), yHi = Swift.min(y0 + g.kernelH, h)
                    for ox in 0..<ow {
                        let x0 = ox * g.strideW - g.padLeft
                        let xLo = Swift.max(x0, 0), xHi = Swift.min(x0 + g.kernelW, w)
                        let v = go[oy * ow + ox] * scale
                        for iy in yLo..<yHi { for ix in xLo..<xHi { dx[iy * w + ix] += v } }
                    }
                }
            }
        }
    }

    /// Global average pooling: out[plane] = mean of the plane's `size` values.
    public static func globalAvgPoolForward(
        x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, planes: Int, size: Int
    ) {
        let scale = 1 / Float(size)
        for p in 0..<planes { out[p] = sum(x + p * size, size) * scale }
    }

    /// Global average pooling backward: gradInput[plane, :] += gradOut[plane] / size.
    public static func globalAvgPoolBackward(
        gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>, planes: Int, size: Int
    ) {
        let scale = 1 / Float(size)
        for p in 0..<planes {
            let v = V(repeating: gradOut[p] * scale)
            let dx = gradInput + p * size
            zip(dx, dx, dx, size, { a, _ in a + v }, { a, _ in a + v[0] })
        }
    }
}

// MARK: - Plain references, for tests

extension Kernels {
    /// Max pooling by scanning the padded window (padding = -inf); same
    /// contract as `maxPoolForward`.
    public static func maxPoolReference(
        x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
        planes: Int, geometry g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Float.infinity, at: Int32 = -1
                    for ki in 0..<g.kernelH {
                        for kj in 0..<g.kernelW {
                            let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                            guard iy >= 0 && iy < g.height && ix >= 0 && ix < g.width else { continue }
                            let v = x[(p * g.height + iy) * g.width + ix]
                            if at < 0 { at = Int32(iy * g.width + ix) }
                            if v > best || v.isNaN { best = v; at = Int32(iy * g.width + ix) }
                        }
                    }
                    out[(p * oh + oy) * ow + ox] = best
                    argmax[(p * oh + oy) * ow + ox] = at
                }
            }
        }
    }

    /// Average pooling by scanning the padded window; same contract as `avgPoolForward`.
    public static func avgPoolReference(
        x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, planes: Int, geometry g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s: Double = 0
                    for ki in 0..<g.kernelH {
                        for kj in 0..<g.kernelW {
                            let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                            guard iy >= 0 && iy < g.height && ix >= 0 && ix < g.width else { continue }
                            s += Double(x[(p * g.height + iy) * g.width + ix])
                        }
                    }
                    out[(p * oh + oy) * ow + ox] = Float(s / Double(g.kernelH * g.kernelW))
                }
            }
        }
    }
}
