/// The geometry of a 2-D sliding window over one CHW image: what convolution,
/// transpose convolution, depthwise convolution and pooling share.
///
/// Padding may be asymmetric (TF-style "same" with an even total pads one more
/// at the bottom/right). The output size is
/// floor((n + padBefore + padAfter - k) / s) + 1 per axis; callers make sure
/// the padded input holds at least one window (layers throw before that).
public struct ConvGeometry: Equatable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int

    public init(
        channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
        strideH: Int = 1, strideW: Int = 1,
        padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0
    ) {
        precondition(channels > 0 && height > 0 && width > 0 && kernelH > 0 && kernelW > 0 && strideH > 0 && strideW > 0,
                     "ConvGeometry: sizes must be positive (C \(channels), H \(height), W \(width), k \(kernelH)x\(kernelW), s \(strideH)x\(strideW))")
        precondition(padTop >= 0 && padBottom >= 0 && padLeft >= 0 && padRight >= 0,
                     "ConvGeometry: negative padding")
        precondition(height + padTop + padBottom >= kernelH && width + padLeft + padRight >= kernelW,
                     "ConvGeometry: padded input \(height + padTop + padBottom)x\(width + padLeft + padRight) is smaller than the kernel \(kernelH)x\(kernelW)")
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padBottom = padBottom
        self.padLeft = padLeft
        self.padRight = padRight
    }

    public var outHeight: Int { (height + padTop + padBottom - kernelH) / strideH + 1 }
    public var outWidth: Int { (width + padLeft + padRight - kernelW) / strideW + 1 }
    /// Rows of the im2col matrix: C * kh * kw.
    public var colRows: Int { channels * kernelH * kernelW }
    /// Columns of the im2col matrix: outHeight * outWidth.
    public var colCols: Int { outHeight * outWidth }
    public var inputPlane: Int { height * width }
    public var outputPlane: Int { outHeight * outWidth }
    /// A 1x1 window with stride 1 and no padding: the image itself is the im2col matrix.
    public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }

    public var description: String {
        "C\(channels) \(height)x\(width) k\(kernelH)x\(kernelW) s\(strideH)x\(strideW) pad(t\(padTop) b\(padBottom) l\(padLeft) r\(padRight)) -> \(outHeight)x\(outWidth)"
    }

    /// The output positions o in [lo, hi) whose input coordinate o*s - pad + k
    /// lies inside [0, n).
    @inlinable
    static func validRange(n: Int, out: Int, stride s: Int, pad: Int, k: Int) -> (lo: Int, hi: Int) {
        // o*s >= pad - k  and  o*s <= n - 1 + pad - k
        let a = pad - k
        let lo = a <= 0 ? 0 : (a + s - 1) / s
        let b = n - 1 + pad - k
        let hi = b < 0 ? 0 : b / s + 1
        let l = Swift.min(lo, out)
        return (l, Swift.max(l, Swift.min(hi, out)))
    }
}

extension Kernels {
    /// Unfolds one CHW image into the matrix col[C*kh*kw, oh*ow] whose row
    /// (c, ki, kj) holds x[c, oy*s - padTop + ki, ox*s - padLeft + kj] for every
    /// output position (zeros where that falls in the padding). Then a
    /// convolution is the product W[out, C*kh*kw] * col.
    ///
    /// With `rows`, only output rows oy in that range are unfolded, into
    /// col[C*kh*kw, rows.count*ow] (a band of the output, for splitting one
    /// image across threads).
    public static func im2col(
        _ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil
    ) {
        let oh = g.outHeight, ow = g.outWidth
        let band = rows ?? 0..<oh
        let l = band.count * ow
        let h = g.height, w = g.width, sh = g.strideH, sw = g.strideW
        for c in 0..<g.channels {
            let xc = x + c * h * w
            for ki in 0..<g.kernelH {
                let valid = ConvGeometry.validRange(n: h, out: oh, stride: sh, pad: g.padTop, k: ki)
                let oyLo = Swift.min(Swift.max(valid.lo, band.lowerBound), band.upperBound)
                let oyHi = Swift.max(Swift.min(valid.hi, band.upperBound), oyLo)
                for kj in 0..<g.kernelW {
                    let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * l - band.lowerBound * ow
                    let (oxLo, oxHi) = ConvGeometry.validRange(n: w, out: ow, stride: sw, pad: g.padLeft, k: kj)
                    let cnt = oxHi - oxLo
                    if oyLo > band.lowerBound { (row + band.lowerBound * ow).update(repeating: 0, count: (oyLo - band.lowerBound) * ow) }
                    if oyHi < band.upperBound { (row + oyHi * ow).update(repeating: 0, count: (band.upperBound - oyHi) * ow) }
                    for oy in oyLo..<oyHi {
                        let dst = row + oy * ow
                        if oxLo > 0 { dst.update(repeating: 0, count: oxLo) }
                        if oxHi < ow { (dst + oxHi).update(repeating: 0, count: ow - oxHi) }
                        if cnt == 0 { continue }
                        let src = xc + (oy * sh - g.padTop + ki) * w + (oxLo * sw - g.padLeft + kj)
                        let d = dst + oxLo
                        if sw == 1 {
                            d.update(from: src, count: cnt)
                        } else {
                            for i in 0..<cnt { d[i] = src[i * sw] }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every entry of col[C*kh*kw, oh*ow] into the
    /// image position it was read from (entries from the padding are dropped).
    /// Accumulates into `x`; the caller zeroes it first when it wants a fresh result.
    public static func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth, l = oh * ow
        let h = g.height, w = g.width, sh = g.strideH, sw = g.strideW
        for c in 0..<g.channels {
            let xc = x + c * h * w
            for ki in 0..<g.kernelH {
                let (oyLo, oyHi) = ConvGeometry.validRange(n: h, out: oh, stride: sh, pad: g.padTop, k: ki)
                for kj in 0..<g.kernelW {
                    let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * l
                    let (oxLo, oxHi) = ConvGeometry.validRange(n: w, out: ow, stride: sw, pad: g.padLeft, k: kj)
                    let cnt = oxHi - oxLo
                    if cnt == 0 { continue }
                    for oy in oyLo..<oyHi {
                        let src = row + oy * ow + oxLo
                        let dst = xc + (oy * sh - g.padTop + ki) * w + (oxLo * sw - g.padLeft + kj)
                        if sw == 1 {
                            accumulate(src, into: dst, cnt)
                        } else {
                            for i in 0..<cnt { dst[i * sw] += src[i] }
                        }
                    }
                }
            }
        }
    }

    /// Element-by-element `im2col`, for tests.
    public static func im2colReference(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth
        for c in 0..<g.channels {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                            let inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width
                            let r = (c * g.kernelH + ki) * g.kernelW + kj
                            col[r * oh * ow + oy * ow + ox] = inside ? x[(c * g.height + iy) * g.width + ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// Element-by-element `col2im` (accumulating), for tests.
    public static func col2imReference(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth
        for c in 0..<g.channels {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                            guard iy >= 0 && iy < g.height && ix >= 0 && ix < g.width else { continue }
                            let r = (c * g.kernelH + ki) * g.kernelW + kj
                            x[(c * g.height + iy) * g.width + ix] += col[r * oh * ow + oy * ow + ox]
                        }
                    }
                }
            }
        }
    }
}
