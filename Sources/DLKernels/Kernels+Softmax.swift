import Foundation

/// Numerically stable softmax and log-softmax along one axis, forward and
/// backward. A tensor is viewed as [outer, dim, inner] with the axis in the
/// middle: inner == 1 (the last axis) runs along contiguous rows; inner > 1
/// (e.g. channels of NCHW) sweeps whole contiguous planes of `inner` values
/// with a running max and sum per position.
///
/// Stability: the row maximum m is subtracted first, so e^(x - m) <= 1 never
/// overflows; log-softmax is x - m - log(sum e^(x - m)), never log(softmax).
extension Kernels {
    /// y = softmax(x) (or log-softmax when `log`) along the middle axis.
    /// `x` and `y` must not alias.
    public static func softmaxForward(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        outer: Int, dim: Int, inner: Int, log: Bool
    ) {
        if dim == 0 || outer == 0 || inner == 0 { return }
        if inner == 1 {
            for o in 0..<outer { _ = softmaxRow(x + o * dim, y + o * dim, dim, log: log) }
            return
        }
        // Strided axis: sweep whole [inner] planes, contiguous, with a running
        // max and sum per position. (Walking the axis per position instead
        // strides by inner * 4 bytes, which for inner = 1024 maps every access
        // to one L1 set.)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * inner) { buf in
            let m = buf.baseAddress!, s = m + inner
            let body = inner & ~7
            for o in 0..<outer {
                let xb = x + o * dim * inner, yb = y + o * dim * inner
                m.update(from: xb, count: inner)
                for d in 1..<dim {
                    let xp = xb + d * inner
                    var i = 0
                    while i < body { Lanes.store(Lanes.maximum(Lanes.load(m, i), Lanes.load(xp, i)), m, i); i += 8 }
                    while i < inner { m[i] = Swift.max(m[i], xp[i]); i += 1 }
                }
                s.initialize(repeating: 0, count: inner)
                for d in 0..<dim {
                    let xp = xb + d * inner, yp = yb + d * inner
                    var i = 0
                    while i < body {
                        let e = Lanes.exp(Lanes.load(xp, i) - Lanes.load(m, i))
                        Lanes.store(Lanes.load(s, i) + e, s, i)
                        if !log { Lanes.store(e, yp, i) }
                        i += 8
                    }
                    while i < inner {
                        let e = Foundation.exp(xp[i] - m[i])
                        s[i] += e
                        if !log { yp[i] = e }
                        i += 1
                    }
                }
                if log {
                    // shift = m + log(sum): one log per position.
                    for i in 0..<inner { m[i] += Foundation.log(s[i]) }
                    for d in 0..<dim {
                        let xp = xb + d * inner, yp = yb + d * inner
                        var i = 0
                        while i < body { Lanes.store(Lanes.load(xp, i) - Lanes.load(m, i), yp, i); i += 8 }
                        while i < inner { yp[i] = xp[i] - m[i]; i += 1 }
                    }
                } else {
                    for i in 0..<inner { s[i] = 1 / s[i] }
                    for d in 0..<dim {
                        let yp = yb + d * inner
                        var i = 0
                        while i < body { Lanes.store(Lanes.load(yp, i) * Lanes.load(s, i), yp, i); i += 8 }
                        while i < inner { yp[i] *= s[i]; i += 1 }
                    }
                }
            }
        }
    }

    /// Softmax or log-softmax of one contiguous row of length n >= 1; returns
    /// log(sum e^(x - m)) + m, the row's log-sum-exp. The tail runs through
    /// the vector code with -inf padding (e^-inf = 0).
    @discardableResult
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) -> Float {
        let m = Lanes.max(x, n)
        let mv = V(repeating: m)
        var acc = V(repeating: 0)
        let body = n & ~7, rest = n - body
        var j = 0
        while j < body {
            let e = Lanes.exp(Lanes.load(x, j) - mv)
            acc += e
            if !log { Lanes.store(e, y, j) }
            j += 8
        }
        if rest > 0 {
            let e = Lanes.exp(Lanes.loadTail(x, body, rest, fill: -.infinity) - mv)
            acc += e
            if !log { Lanes.storeTail(e, y, body, rest) }
        }
        let s = acc.sum()
        let lse = m + Foundation.log(s)
        if log {
            let sv = V(repeating: lse)
            j = 0
            while j < body { Lanes.store(Lanes.load(x, j) - sv, y, j); j += 8 }
            for t in body..<n { y[t] = x[t] - lse }
        } else {
            let rv = V(repeating: 1 / s)
            j = 0
            while j < body { Lanes.store(Lanes.load(y, j) * rv, y, j); j += 8 }
            for t in body..<n { y[t] *= 1 / s }
        }
        return lse
    }

    /// Backward of `softmaxForward` from its output y:
    /// softmax: gx = y * (gy - sum(gy * y)); log-softmax: gx = gy - e^y * sum(gy).
    /// `gx` may alias `gy`.
    public static func softmaxBackward(
        y: UnsafePointer<Float>, gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>,
        outer: Int, dim: Int, inner: Int, log: Bool
    ) {
        if dim == 0 || outer == 0 || inner == 0 { return }
        if inner == 1 {
            let body = dim & ~7
            for o in 0..<outer {
                let yr = y + o * dim, gr = gy + o * dim, xr = gx + o * dim
                var j = 0
                if log {
                    let s = sum(gr, dim)
                    let sv = V(repeating: s)
                    while j < body { Lanes.store(Lanes.load(gr, j) - Lanes.exp(Lanes.load(yr, j)) * sv, xr, j); j += 8 }
                    while j < dim { xr[j] = gr[j] - Foundation.exp(yr[j]) * s; j += 1 }
                } else {
                    let s = dot(gr, yr, dim)
                    let sv = V(repeating: s)
                    while j < body { Lanes.store(Lanes.load(yr, j) * (Lanes.load(gr, j) - sv), xr, j); j += 8 }
                    while j < dim { xr[j] = yr[j] * (gr[j] - s); j += 1 }
                }
            }
            return
        }
        // Strided axis: per-position sums over the axis, then one sweep.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: inner) { buf in
            let s = buf.baseAddress!
            let body = inner & ~7
            for o in 0..<outer {
                let base = o * dim * inner
                s.initialize(repeating: 0, count: inner)
                for d in 0..<dim {
                    let yp = y + base + d * inner, gp = gy + base + d * inner
                    var i = 0
                    if log {
                        while i < body { Lanes.store(Lanes.load(s, i) + Lanes.load(gp, i), s, i); i += 8 }
                        while i < inner { s[i] += gp[i]; i += 1 }
                    } else {
                        while i < body { Lanes.store(Lanes.load(s, i).addingProduct(Lanes.load(gp, i), Lanes.load(yp, i)), s, i); i += 8 }
                        while i < inner { s[i] += gp[i] * yp[i]; i += 1 }
                    }
                }
                for d in 0..<dim {
                    let yp = y + base + d * inner, gp = gy + base + d * inner, xp = gx + base + d * inner
                    var i = 0
                    if log {
                        while i < body {
                            Lanes.store(Lanes.load(gp, i) - Lanes.exp(Lanes.load(yp, i)) * Lanes.load(s, i), xp, i)
                            i += 8
                        }
                        while i < inner { xp[i] = gp[i] - Foundation.exp(yp[i]) * s[i]; i += 1 }
                    } else {
                        while i < body { Lanes.store(Lanes.load(yp, i) * (Lanes.load(gp, i) - Lanes.load(s, i)), xp, i); i += 8 }
                        while i < inner { xp[i] = yp[i] * (gp[i] - s[i]); i += 1 }
                    }
                }
            }
        }
    }

    // MARK: - References

    /// Plain Double version of `softmaxForward`.
    public static func softmaxForwardReference(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        outer: Int, dim: Int, inner: Int, log: Bool
    ) {
        for o in 0..<outer {
            for i in 0..<inner {
                let idx = { (d: Int) in (o * dim + d) * inner + i }
                var m = -Double.infinity
                for d in 0..<dim { m = Swift.max(m, Double(x[idx(d)])) }
                var s = 0.0
                for d in 0..<dim { s += Foundation.exp(Double(x[idx(d)]) - m) }
                for d in 0..<dim {
                    let v = Double(x[idx(d)]) - m
                    y[idx(d)] = Float(log ? v - Foundation.log(s) : Foundation.exp(v) / s)
                }
            }
        }
    }

    /// Plain Double version of `softmaxBackward`, from the Jacobian:
    /// d softmax_j / d x_k = y_j (delta_jk - y_k); d logsoftmax_j / d x_k = delta_jk - softmax_k.
    public static func softmaxBackwardReference(
        y: UnsafePointer<Float>, gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>,
        outer: Int, dim: Int, inner: Int, log: Bool
    ) {
        for o in 0..<outer {
            for i in 0..<inner {
                let idx = { (d: Int) in (o * dim + d) * inner + i }
                for k in 0..<dim {
                    var acc = 0.0
                    for j in 0..<dim {
                        let delta: Double = j == k ? 1 : 0
                        let jac: Double
                        if log {
                            jac = delta - Foundation.exp(Double(y[idx(k)]))
                        } else {
                            jac = Double(y[idx(j)]) * (delta - Double(y[idx(k)]))
                        }
                        acc += Double(gy[idx(j)]) * jac
                    }
                    gx[idx(k)] = Float(acc)
                }
            }
        }
    }
}
