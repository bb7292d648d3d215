import Foundation

extension Kernels {
    // MARK: L2 normalization of rows

    /// y[r] = x[r] / max(|x[r]|, eps) for `rows` rows of `d` values
    /// (PyTorch's `F.normalize(x, dim=-1)`); writes each row's divisor to `norms`.
    public static func l2NormalizeRows(_ x: UnsafePointer<Float>, rows: Int, d: Int, eps: Float,
                                       _ y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * d
            let n = Swift.max(dot(x + o, x + o, d).squareRoot(), eps)
            norms[r] = n
            let inv = 1 / n
            for i in 0..<d { y[o + i] = x[o + i] * inv }
        }
    }

    /// Backward of `l2NormalizeRows`, accumulated into dx: for a row whose
    /// norm exceeded eps, dx += (g - y (y . g)) / |x|; for a row clamped at
    /// eps (y = x / eps), dx += g / eps.
    public static func l2NormalizeRowsBackward(y: UnsafePointer<Float>, gradOut g: UnsafePointer<Float>,
                                               norms: UnsafePointer<Float>, rows: Int, d: Int, eps: Float,
                                               dx: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * d, inv = 1 / norms[r]
            if norms[r] <= eps {
                for i in 0..<d { dx[o + i] += g[o + i] * inv }
                continue
            }
            let yg = dot(y + o, g + o, d)
            for i in 0..<d { dx[o + i] += (g[o + i] - y[o + i] * yg) * inv }
        }
    }
}
