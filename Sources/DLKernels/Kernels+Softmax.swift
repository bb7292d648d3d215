import Foundation

/// Numerically stable softmax and log-softmax along one axis, forward and
/// backward. A tensor is viewed as [outer, dim, inner] with the axis in the
/// middle: inner == 1 (the last axis) runs along contiguous rows; inner > 1
/// (e.g. channels of NCHW) runs 8 inner positions at a time.
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
        if dim == 0 { return }
        if inner == 1 {
            for o in 0..<outer { softmaxRow(x + o * dim, y + o * dim, dim, log: log) }
            return
        }
        for o in 0..<outer {
            let xb = x + o * dim * inner, yb = y + o * dim * inner
            var i = 0
            while i + 8 <= inner {
                var m = Lanes.load(xb, i)
                for d in 1..<dim { m = Lanes.maximum(m, Lanes.load(xb, d * inner + i)) }
                var s = V(repeating: 0)
                for d in 0..<dim {
                    let e = Lanes.exp(Lanes.load(xb, d * inner + i) - m)
                    s += e
                    if !log { Lanes.store(e, yb, d * inner + i) }
                }
                if log {
                    var ls = V(repeating: 0)
                    for l in 0..<8 { ls[l] = Foundation.log(s[l]) }
                    let shift = m + ls
                    for d in 0..<dim { Lanes.store(Lanes.load(xb, d * inner + i) - shift, yb, d * inner + i) }
                } else {
                    let r = V(repeating: 1) / s
                    for d in 0..<dim { Lanes.store(Lanes.load(yb, d * inner + i) * r, yb, d * inner + i) }
                }
                i += 8
            }
            while i < inner {
                var m = xb[i]
                for d in 1..<dim { m = Swift.max(m, xb[d * inner + i]) }
                var s: Float = 0
                for d in 0..<dim {
                    let e = Foundation.exp(xb[d * inner + i] - m)
                    s += e
                    if !log { yb[d * inner + i] = e }
                }
                if log {
                    let shift = m + Foundation.log(s)
                    for d in 0..<dim { yb[d * inner + i] = xb[d * inner + i] - shift }
                } else {
                    let r = 1 / s
                    for d in 0..<dim { yb[d * inner + i] *= r }
                }
                i += 1
            }
        }
    }

    /// One contiguous row of length n.
    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
        let m = Lanes.max(x, n)
        let mv = V(repeating: m)
        var acc = V(repeating: 0)
        var j = 0
        while j + 8 <= n {
            let e = Lanes.exp(Lanes.load(x, j) - mv)
            acc += e
            if !log { Lanes.store(e, y, j) }
            j += 8
        }
        var s = acc.sum()
        while j < n {
            let e = Foundation.exp(x[j] - m)
            s += e
            if !log { y[j] = e }
            j += 1
        }
        j = 0
        if log {
            let shift = m + Foundation.log(s)
            let sv = V(repeating: shift)
            while j + 8 <= n { Lanes.store(Lanes.load(x, j) - sv, y, j); j += 8 }
            while j < n { y[j] = x[j] - shift; j += 1 }
        } else {
            let r = 1 / s
            let rv = V(repeating: r)
            while j + 8 <= n { Lanes.store(Lanes.load(y, j) * rv, y, j); j += 8 }
            while j < n { y[j] *= r; j += 1 }
        }
    }

    /// Backward of `softmaxForward` from its output y:
    /// softmax: gx = y * (gy - sum(gy * y)); log-softmax: gx = gy - e^y * sum(gy).
    /// `gx` may alias `gy`.
    public static func softmaxBackward(
        y: UnsafePointer<Float>, gy: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>,
        outer: Int, dim: Int, inner: Int, log: Bool
    ) {
        if dim == 0 { return }
        if inner == 1 {
            for o in 0..<outer {
                let yr = y + o * dim, gr = gy + o * dim, xr = gx + o * dim
                var j = 0
                if log {
                    let s = sum(gr, dim)
                    let sv = V(repeating: s)
                    while j + 8 <= dim {
                        Lanes.store(Lanes.load(gr, j) - Lanes.exp(Lanes.load(yr, j)) * sv, xr, j)
                        j += 8
                    }
                    while j < dim { xr[j] = gr[j] - Foundation.exp(yr[j]) * s; j += 1 }
                } else {
                    let s = dot(gr, yr, dim)
                    let sv = V(repeating: s)
                    while j + 8 <= dim { Lanes.store(Lanes.load(yr, j) * (Lanes.load(gr, j) - sv), xr, j); j += 8 }
                    while j < dim { xr[j] = yr[j] * (gr[j] - s); j += 1 }
                }
            }
            return
        }
        for o in 0..<outer {
            let base = o * dim * inner
            let yb = y + base, gb = gy + base, xb = gx + base
            var i = 0
            while i + 8 <= inner {
                var s = V(repeating: 0)
                for d in 0..<dim {
                    let g = Lanes.load(gb, d * inner + i)
                    s = log ? s + g : s.addingProduct(g, Lanes.load(yb, d * inner + i))
                }
                for d in 0..<dim {
                    let k = d * inner + i
                    let g = Lanes.load(gb, k), v = Lanes.load(yb, k)
                    Lanes.store(log ? g - Lanes.exp(v) * s : v * (g - s), xb, k)
                }
                i += 8
            }
            while i < inner {
                var s: Float = 0
                for d in 0..<dim { s += log ? gb[d * inner + i] : gb[d * inner + i] * yb[d * inner + i] }
                for d in 0..<dim {
                    let k = d * inner + i
                    xb[k] = log ? gb[k] - Foundation.exp(yb[k]) * s : yb[k] * (gb[k] - s)
                }
                i += 1
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
