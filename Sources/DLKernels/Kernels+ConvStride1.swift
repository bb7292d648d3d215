/// Stride-1 convolution through a zero-padded copy of the image.
///
/// On the padded grid (Hp x Wp), the input window of output (oy, ox) at
/// kernel offset (ki, kj) is xp[c, oy + ki, ox + kj]. Computing the output on
/// the padded *width* (oy, ox) for ox in 0..<Wp, the im2col row (c, ki, kj)
/// becomes one contiguous run of xp: `xp[c] + ki * Wp + kj`, oh * Wp values.
/// So the unfold is one memcpy per row instead of one per output row and
/// the padding needs no bounds checks. The Wp - ow extra columns per output row
/// (kw - 1 of them) are computed and dropped: (kw - 1) / Wp more multiply-adds
/// (7% for 3x3 on 28 wide), for an unfold several times cheaper.
extension Kernels {
    /// Size of the padded copy of one image for `paddedImage`: C * Hp * Wp,
    /// plus kw values of slack (the last run of the last channel reads past its plane).
    static func paddedImageCount(_ g: ConvGeometry) -> Int {
        g.channels * (g.height + g.padTop + g.padBottom) * (g.width + g.padLeft + g.padRight) + g.kernelW
    }

    /// xp[c, padTop + y, padLeft + x] = x[c, y, x], zeros elsewhere (slack included).
    static func paddedImage(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ xp: UnsafeMutablePointer<Float>) {
        let hp = g.height + g.padTop + g.padBottom, wp = g.width + g.padLeft + g.padRight
        paddedRows(x, g, rows: 0..<hp, xp)
        (xp + g.channels * hp * wp).update(repeating: 0, count: g.kernelW)
    }

    /// Rows `rows` (of Hp) of every channel of `paddedImage`'s copy:
    /// xp[c, r - rows.lowerBound, :] = padded x[c, r, :].
    static func paddedRows(_ x: UnsafePointer<Float>, _ g: ConvGeometry, rows: Range<Int>, _ xp: UnsafeMutablePointer<Float>) {
        let wp = g.width + g.padLeft + g.padRight
        for c in 0..<g.channels {
            for r in rows { paddedRow(x, g, channel: c, row: r, xp + (c * rows.count + r - rows.lowerBound) * wp) }
        }
    }

    /// dst[0..<Wp] = padded row r (of Hp) of channel c: the image row between
    /// zeros, or all zeros for a padding row.
    @inline(__always)
    static func paddedRow(_ x: UnsafePointer<Float>, _ g: ConvGeometry, channel c: Int, row r: Int,
                          _ dst: UnsafeMutablePointer<Float>) {
        let wp = g.width + g.padLeft + g.padRight, w = g.width, y = r - g.padTop
        guard y >= 0 && y < g.height else {
            dst.update(repeating: 0, count: wp)
            return
        }
        for i in 0..<g.padLeft { dst[i] = 0 }
        copyRow(x + (c * g.height + y) * w, dst + g.padLeft, w)
        for i in (g.padLeft + w)..<wp { dst[i] = 0 }
    }

    /// dst[0..<n] = src[0..<n] for the short rows of an image, in SIMD8
    /// steps (the last one overlapping): a memmove call per row cost more
    /// than the copy.
    @inline(__always)
    static func copyRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n >= 8 else {
            for i in 0..<n { dst[i] = src[i] }
            return
        }
        var i = 0
        while i < n {
            i = Swift.min(i, n - 8)
            store(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self), dst + i)
            i += 8
        }
    }

    /// Output rows `rows` of a stride-1, groups-1 convolution of one image
    /// from its padded copy `xp` (`paddedImage`): out[outC, oh, ow] in those
    /// rows = W * unfold + bias, then `activation`.
    static func conv2dStride1Rows(
        padded xp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, geometry g: ConvGeometry, outChannels: Int, activation: Activation?,
        rows: Range<Int>
    ) {
        precondition(g.strideH == 1 && g.strideW == 1, "conv2dStride1Rows: stride \(g.strideH)x\(g.strideW)")
        let hp = g.height + g.padTop + g.padBottom, wp = g.width + g.padLeft + g.padRight
        let ow = g.outWidth, l = g.colCols, k = g.colRows, kh = g.kernelH, kw = g.kernelW
        let n = rows.count * wp
        let col = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: outChannels * n)
        defer {
            col.deallocate()
            wide.deallocate()
        }
        for c in 0..<g.channels {
            for ki in 0..<kh {
                for kj in 0..<kw {
                    (col + ((c * kh + ki) * kw + kj) * n).update(from: xp + c * hp * wp + (rows.lowerBound + ki) * wp + kj, count: n)
                }
            }
        }
        gemm(transA: false, transB: false, m: outChannels, n: n, k: k, a: weight, lda: k, b: col, ldb: n,
             beta: 0, c: wide, ldc: n)
        for co in 0..<outChannels {
            let b = bias?[co] ?? 0
            let dst = out + co * l + rows.lowerBound * ow
            for i in 0..<rows.count {
                let s = wide + co * n + i * wp, d = dst + i * ow
                for ox in 0..<ow { d[ox] = s[ox] + b }
            }
            if let activation { activationForward(activation, dst, dst, rows.count * ow) }
        }
    }
}
