import Foundation

/// Softmax over contiguous rows with masked entries, for attention scores
/// (Vaswani et al., 2017): an entry is masked when its `keep` value is 0 or
/// its score is -inf (PyTorch's `masked_fill(~mask, -inf).softmax(-1)`).
/// Masked entries get probability 0. A row with every entry masked gives all
/// zeros where PyTorch gives NaN, so a fully padded query yields a zero
/// output and zero gradients instead of poisoning the batch.
extension Kernels {
    /// y = masked softmax of each of `rows` rows of length n. `keep` holds one
    /// value per entry (nonzero: take part) or is nil (only -inf masks).
    /// The backward is `softmaxBackward(..., inner: 1, log: false)`: masked
    /// entries have y = 0, so they receive no gradient. `y` may alias `x`.
    public static func maskedSoftmaxForward(
        _ x: UnsafePointer<Float>, keep: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int
    ) {
        guard n > 0 else { return }
        for r in 0..<rows {
            let xr = x + r * n, yr = y + r * n
            if let keep {
                let kr = keep + r * n
                for j in 0..<n { yr[j] = kr[j] != 0 ? xr[j] : -.infinity }
            } else if xr != UnsafePointer(yr) {
                yr.update(from: xr, count: n)
            }
            if Lanes.max(yr, n) == -.infinity {
                yr.update(repeating: 0, count: n)
            } else {
                // Masked entries are -inf here, and e^(-inf - m) = 0.
                softmaxRow(yr, yr, n, log: false)
            }
        }
    }

    /// Plain Double version of `maskedSoftmaxForward`.
    public static func maskedSoftmaxReference(
        _ x: UnsafePointer<Float>, keep: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int
    ) {
        for r in 0..<rows {
            let kept = (0..<n).filter { (keep == nil || keep![r * n + $0] != 0) && x[r * n + $0] != -.infinity }
            for j in 0..<n { y[r * n + j] = 0 }
            guard let first = kept.first else { continue }
            var m = Double(x[r * n + first])
            for j in kept { m = Swift.max(m, Double(x[r * n + j])) }
            var s = 0.0
            for j in kept { s += Foundation.exp(Double(x[r * n + j]) - m) }
            for j in kept { y[r * n + j] = Float(Foundation.exp(Double(x[r * n + j]) - m) / s) }
        }
    }
}
