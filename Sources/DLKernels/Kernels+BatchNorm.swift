/// Batch normalization kernels (Ioffe & Szegedy, 2015) over x viewed as
/// [n, c, s]: n samples, c channels, s = H * W positions (s = 1 for [N, C]).
/// Statistics are per channel over the m = n * s values of that channel.
///
/// Forward caches only `mean` and `rstd` = 1 / sqrt(var + eps) per channel; the
/// backward recomputes xhat = (x - mean) * rstd from x (llm.c's layernorm does
/// the same), so no [n, c, s] temporary is kept.
///
/// Two layouts: s > 1 runs along contiguous planes; s == 1 runs along rows,
/// 8 channels at a time.
extension Kernels {
    /// Per-channel mean and biased variance (divided by m), two-pass for
    /// accuracy. `mean` and `variance` have c elements.
    public static func batchNormStatistics(
        _ x: UnsafePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>
    ) {
        let m = n * s
        precondition(m > 0, "batchNormStatistics: no values per channel (n \(n), s \(s))")
        if s == 1 {
            mean.initialize(repeating: 0, count: c)
            variance.initialize(repeating: 0, count: c)
            for r in 0..<n { accumulate(x + r * c, into: mean, c) }
            let inv = 1 / Float(m)
            scaleInPlace(mean, c, inv)
            for r in 0..<n {
                let row = x + r * c
                var j = 0
                while j + 8 <= c {
                    let d = Lanes.load(row, j) - Lanes.load(mean, j)
                    Lanes.store(Lanes.load(variance, j).addingProduct(d, d), variance, j)
                    j += 8
                }
                while j < c { let d = row[j] - mean[j]; variance[j] += d * d; j += 1 }
            }
            scaleInPlace(variance, c, inv)
            return
        }
        channelChunks(n: n, c: c, s: s) { channels in
            for ch in channels {
                var total = 0.0
                for r in 0..<n { total += Double(sum(x + (r * c + ch) * s, s)) }
                let mu = Float(total / Double(m))
                let mv = V(repeating: mu)
                var sq = 0.0
                for r in 0..<n {
                    let p = x + (r * c + ch) * s
                    var acc = V(repeating: 0)
                    var i = 0
                    while i + 8 <= s { let d = Lanes.load(p, i) - mv; acc = acc.addingProduct(d, d); i += 8 }
                    var t = acc.sum()
                    while i < s { let d = p[i] - mu; t += d * d; i += 1 }
                    sq += Double(t)
                }
                mean[ch] = mu
                variance[ch] = Float(sq / Double(m))
            }
        }
    }

    /// y = (x - mean[c]) * rstd[c] * gamma[c] + beta[c], as a subtract and a
    /// multiply-add per value, y = (x - mean) * scale + beta. (Folding the mean
    /// into the shift, x * scale + shift, cancels badly when |mean| >> std.)
    /// `x` and `y` may alias.
    public static func batchNormNormalize(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
    ) {
        if s == 1 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { buf in
                let scale = buf.baseAddress!
                for j in 0..<c { scale[j] = gamma[j] * rstd[j] }
                for r in 0..<n {
                    let xr = x + r * c, yr = y + r * c
                    var j = 0
                    while j + 8 <= c {
                        let xm = Lanes.load(xr, j) - Lanes.load(mean, j)
                        Lanes.store(Lanes.load(beta, j).addingProduct(xm, Lanes.load(scale, j)), yr, j)
                        j += 8
                    }
                    while j < c { yr[j] = (xr[j] - mean[j]) * scale[j] + beta[j]; j += 1 }
                }
            }
            return
        }
        channelChunks(n: n, c: c, s: s) { channels in
            for ch in channels {
                for r in 0..<n {
                    let off = (r * c + ch) * s
                    centeredAffine(x + off, y + off, s, mean: mean[ch], scale: gamma[ch] * rstd[ch], shift: beta[ch])
                }
            }
        }
    }

    /// Backward of `batchNormNormalize`. Always writes gGamma = sum(gy * xhat)
    /// and gBeta = sum(gy) per channel; writes gx when given.
    ///
    /// With batch statistics (training), mean and rstd depend on x:
    ///   gx = gamma * rstd / m * (m * gy - sum(gy) - xhat * sum(gy * xhat)).
    /// With running statistics (inference, or a frozen layer), they are
    /// constants: gx = gamma * rstd * gy.
    public static func batchNormBackward(
        x: UnsafePointer<Float>, gy: UnsafePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
        batchStatistics: Bool,
        gx: UnsafeMutablePointer<Float>?, gGamma: UnsafeMutablePointer<Float>, gBeta: UnsafeMutablePointer<Float>
    ) {
        let m = Float(n * s)
        if s == 1 {
            // Column sums 8 channels at a time: gBeta = sum gy, gGamma = sum gy * (x - mean), scaled below.
            gBeta.initialize(repeating: 0, count: c)
            gGamma.initialize(repeating: 0, count: c)
            for r in 0..<n {
                let xr = x + r * c, gr = gy + r * c
                var j = 0
                while j + 8 <= c {
                    let g = Lanes.load(gr, j)
                    Lanes.store(Lanes.load(gBeta, j) + g, gBeta, j)
                    Lanes.store(Lanes.load(gGamma, j).addingProduct(g, Lanes.load(xr, j) - Lanes.load(mean, j)), gGamma, j)
                    j += 8
                }
                while j < c { gBeta[j] += gr[j]; gGamma[j] += gr[j] * (xr[j] - mean[j]); j += 1 }
            }
            for j in 0..<c { gGamma[j] *= rstd[j] }
            guard let gx else { return }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * c) { buf in
                let a = buf.baseAddress!, b = a + c, d = b + c
                for j in 0..<c {
                    (a[j], b[j], d[j]) = batchNormBackwardCoefficients(
                        gamma: gamma[j], rstd: rstd[j], sumGy: gBeta[j], sumGyXhat: gGamma[j], m: m, batch: batchStatistics)
                }
                for r in 0..<n {
                    let xr = x + r * c, gr = gy + r * c, outr = gx + r * c
                    var j = 0
                    while j + 8 <= c {
                        let xm = Lanes.load(xr, j) - Lanes.load(mean, j)
                        let v = Lanes.load(d, j).addingProduct(xm, Lanes.load(b, j)).addingProduct(Lanes.load(gr, j), Lanes.load(a, j))
                        Lanes.store(v, outr, j)
                        j += 8
                    }
                    while j < c { outr[j] = a[j] * gr[j] + b[j] * (xr[j] - mean[j]) + d[j]; j += 1 }
                }
            }
            return
        }
        channelChunks(n: n, c: c, s: s) { channels in
            for ch in channels {
                let mu = mean[ch], mv = V(repeating: mu)
                var sumG = 0.0, sumGX = 0.0
                for r in 0..<n {
                    let off = (r * c + ch) * s
                    let p = x + off, g = gy + off
                    var accG = V(repeating: 0), accGX = V(repeating: 0)
                    var i = 0
                    while i + 8 <= s {
                        let gv = Lanes.load(g, i)
                        accG += gv
                        accGX = accGX.addingProduct(gv, Lanes.load(p, i) - mv)
                        i += 8
                    }
                    var tg = accG.sum(), tgx = accGX.sum()
                    while i < s { tg += g[i]; tgx += g[i] * (p[i] - mu); i += 1 }
                    sumG += Double(tg)
                    sumGX += Double(tgx)
                }
                gBeta[ch] = Float(sumG)
                gGamma[ch] = Float(sumGX) * rstd[ch]
                guard let gx else { continue }
                let (a, b, d) = batchNormBackwardCoefficients(
                    gamma: gamma[ch], rstd: rstd[ch], sumGy: gBeta[ch], sumGyXhat: gGamma[ch], m: m, batch: batchStatistics)
                let av = V(repeating: a), bv = V(repeating: b), dv = V(repeating: d)
                for r in 0..<n {
                    let off = (r * c + ch) * s
                    let p = x + off, g = gy + off, o = gx + off
                    var i = 0
                    while i + 8 <= s {
                        Lanes.store(dv.addingProduct(Lanes.load(p, i) - mv, bv).addingProduct(Lanes.load(g, i), av), o, i)
                        i += 8
                    }
                    while i < s { o[i] = a * g[i] + b * (p[i] - mu) + d; i += 1 }
                }
            }
        }
    }

    /// Runs `body` over channel ranges: split across the kernel thread budget
    /// (`Kernels.parallelChunks`) when the tensor is large enough to pay for
    /// the threads, else one range inline. Channels are independent in every
    /// NCHW batch-norm pass.
    @inline(__always)
    static func channelChunks(n: Int, c: Int, s: Int, _ body: (Range<Int>) -> Void) {
        let chunks = n * c * s >= 1 << 16 ? chunkCount(c) : 1
        if chunks == 1 { body(0..<c); return }
        parallelChunks(c, chunks: chunks) { _, range in body(range) }
    }

    /// gx = a * gy + b * (x - mean) + d for one channel.
    @inline(__always)
    static func batchNormBackwardCoefficients(
        gamma: Float, rstd: Float, sumGy: Float, sumGyXhat: Float, m: Float, batch: Bool
    ) -> (Float, Float, Float) {
        let a = gamma * rstd
        guard batch else { return (a, 0, 0) }
        return (a, -a * rstd * sumGyXhat / m, -a * sumGy / m)
    }

    /// y = (x - mean) * scale + shift over n contiguous values.
    @inline(__always)
    static func centeredAffine(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, mean: Float, scale: Float, shift: Float
    ) {
        let mv = V(repeating: mean), sv = V(repeating: scale), tv = V(repeating: shift)
        var i = 0
        while i + 8 <= n { Lanes.store(tv.addingProduct(Lanes.load(x, i) - mv, sv), y, i); i += 8 }
        while i < n { y[i] = (x[i] - mean) * scale + shift; i += 1 }
    }

    @inline(__always)
    static func scaleInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
        let sv = V(repeating: s)
        var i = 0
        while i + 8 <= n { Lanes.store(Lanes.load(x, i) * sv, x, i); i += 8 }
        while i < n { x[i] *= s; i += 1 }
    }

    // MARK: - References

    /// Plain Double version of `batchNormStatistics`.
    public static func batchNormStatisticsReference(
        _ x: UnsafePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>
    ) {
        let m = Double(n * s)
        for ch in 0..<c {
            var t = 0.0
            for r in 0..<n { for i in 0..<s { t += Double(x[(r * c + ch) * s + i]) } }
            let mu = t / m
            var q = 0.0
            for r in 0..<n { for i in 0..<s { let d = Double(x[(r * c + ch) * s + i]) - mu; q += d * d } }
            mean[ch] = Float(mu)
            variance[ch] = Float(q / m)
        }
    }

    /// Plain Double version of `batchNormNormalize`.
    public static func batchNormNormalizeReference(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
    ) {
        for r in 0..<n {
            for ch in 0..<c {
                for i in 0..<s {
                    let k = (r * c + ch) * s + i
                    let xhat = (Double(x[k]) - Double(mean[ch])) * Double(rstd[ch])
                    y[k] = Float(xhat * Double(gamma[ch]) + Double(beta[ch]))
                }
            }
        }
    }

    /// Plain Double version of `batchNormBackward`, written from the textbook
    /// chain rule through var and mean rather than the fused formula.
    public static func batchNormBackwardReference(
        x: UnsafePointer<Float>, gy: UnsafePointer<Float>, n: Int, c: Int, s: Int,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
        batchStatistics: Bool,
        gx: UnsafeMutablePointer<Float>?, gGamma: UnsafeMutablePointer<Float>, gBeta: UnsafeMutablePointer<Float>
    ) {
        let m = Double(n * s)
        for ch in 0..<c {
            let mu = Double(mean[ch]), rs = Double(rstd[ch]), g = Double(gamma[ch])
            let idx = { (r: Int, i: Int) in (r * c + ch) * s + i }
            var db = 0.0, dg = 0.0, dvar = 0.0, dmeanDirect = 0.0, sumXmu = 0.0
            for r in 0..<n {
                for i in 0..<s {
                    let k = idx(r, i)
                    let xm = Double(x[k]) - mu
                    let dxhat = Double(gy[k]) * g
                    db += Double(gy[k])
                    dg += Double(gy[k]) * xm * rs
                    // var = mean((x - mean)^2); xhat = (x - mean) * (var + eps)^(-1/2)
                    dvar += dxhat * xm * -0.5 * rs * rs * rs
                    dmeanDirect += -dxhat * rs
                    sumXmu += xm
                }
            }
            let dmean = dmeanDirect + dvar * -2 * sumXmu / m
            gBeta[ch] = Float(db)
            gGamma[ch] = Float(dg)
            guard let gx else { continue }
            for r in 0..<n {
                for i in 0..<s {
                    let k = idx(r, i)
                    let dxhat = Double(gy[k]) * g
                    gx[k] = batchStatistics
                        ? Float(dxhat * rs + dvar * 2 * (Double(x[k]) - mu) / m + dmean / m)
                        : Float(dxhat * rs)
                }
            }
        }
    }
}
