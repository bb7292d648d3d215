import Foundation

/// Cross-entropy per token for sequence models: PyTorch's
/// `CrossEntropyLoss(ignore_index=..., label_smoothing=eps, reduction='mean')`
/// on rows of logits, some of them ignored (padding).
///
/// With smoothing eps over k classes the target of a row is
/// q = (1 - eps) onehot(label) + eps / k (Szegedy et al., 2016), so per row
/// loss = lse(x) - (1 - eps) x[label] - (eps / k) sum_j x_j and
/// d loss / d x = softmax(x) - q. The mean is over the rows that count.
extension Kernels {
    /// Sum of the per-row losses over rows whose label is >= 0 (a negative
    /// label marks a row that is ignored), and the number of such rows.
    /// logits [n, k], labels [n] with counted labels in 0..<k. Writes the
    /// softmax of each counted row into `probs` [n, k] when given (ignored
    /// rows are left as they are).
    public static func tokenCrossEntropyForward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int, smoothing: Float,
        probs: UnsafeMutablePointer<Float>?
    ) -> (sum: Double, count: Int) {
        precondition(k > 0, "tokenCrossEntropy: no classes")
        var total = 0.0, count = 0
        let eps = Double(smoothing)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: probs == nil ? k : 0) { scratch in
            for r in 0..<n where labels[r] >= 0 {
                let x = logits + r * k, label = labels[r]
                precondition(label < k, "tokenCrossEntropy: label \(label) of row \(r) is outside 0..<\(k)")
                let lse = Double(softmaxRow(x, probs != nil ? probs! + r * k : scratch.baseAddress!, k, log: false))
                var loss = lse - (1 - eps) * Double(x[label])
                if eps != 0 { loss -= eps / Double(k) * Double(sum(x, k)) }
                total += loss
                count += 1
            }
        }
        return (total, count)
    }

    /// gx = (softmax - q) * scale for counted rows, 0 for ignored rows;
    /// `scale` is the upstream gradient divided by the counted rows.
    /// `gx` may alias `probs`.
    public static func tokenCrossEntropyBackward(
        probs: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int, smoothing: Float, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) {
        let sv = V(repeating: scale), uniform = V(repeating: smoothing / Float(k))
        for r in 0..<n {
            let p = probs + r * k, g = gx + r * k
            guard labels[r] >= 0 else {
                g.update(repeating: 0, count: k)
                continue
            }
            var j = 0
            while j + 8 <= k { Lanes.store((Lanes.load(p, j) - uniform) * sv, g, j); j += 8 }
            while j < k { g[j] = (p[j] - smoothing / Float(k)) * scale; j += 1 }
            g[labels[r]] -= (1 - smoothing) * scale
        }
    }

    // MARK: - References

    /// Plain Double version: the mean loss over counted rows (0 when none
    /// count) and its gradient times `scale` (the upstream gradient), from
    /// the definition -sum_j q_j log softmax(x)_j.
    public static func tokenCrossEntropyReference(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int, smoothing: Float, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) -> Double {
        let counted = (0..<n).filter { labels[$0] >= 0 }
        let eps = Double(smoothing), c = Double(Swift.max(counted.count, 1))
        var total = 0.0
        for i in 0..<(n * k) { gx[i] = 0 }
        for r in counted {
            var m = -Double.infinity
            for j in 0..<k { m = Swift.max(m, Double(logits[r * k + j])) }
            var s = 0.0
            for j in 0..<k { s += Foundation.exp(Double(logits[r * k + j]) - m) }
            for j in 0..<k {
                let logp = Double(logits[r * k + j]) - m - Foundation.log(s)
                let q = (j == labels[r] ? 1 - eps : 0) + eps / Double(k)
                total -= q * logp
                gx[r * k + j] = Float((Foundation.exp(logp) - q) * Double(scale) / c)
            }
        }
        return counted.isEmpty ? 0 : total / c
    }
}
