import Foundation

/// Loss kernels. Each forward returns the mean over what the loss averages
/// (rows or elements), accumulated in Double; each backward writes the
/// gradient for an upstream gradient `scale` already divided by that count.
extension Kernels {
    // MARK: Softmax cross-entropy

    /// Mean over rows of -log softmax(logits)[label], logits [n, k], labels in
    /// 0..<k. Per row: loss = m + log(sum e^(x - m)) - x[label], m = row max.
    /// Writes softmax(logits) into `probs` [n, k] for the backward when given.
    public static func softmaxCrossEntropyForward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int,
        probs: UnsafeMutablePointer<Float>?
    ) -> Double {
        precondition(k > 0, "softmaxCrossEntropy: no classes")
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: probs == nil ? k : 0) { scratch in
            for r in 0..<n {
                let x = logits + r * k
                let label = labels[r]
                precondition(label >= 0 && label < k, "softmaxCrossEntropy: label \(label) of row \(r) is outside 0..<\(k)")
                // loss = log-sum-exp(x) - x[label]; the row's softmax goes to probs.
                let lse = softmaxRow(x, probs != nil ? probs! + r * k : scratch.baseAddress!, k, log: false)
                total += Double(lse - x[label])
            }
        }
        return n == 0 ? 0 : total / Double(n)
    }

    /// d loss / d logits = (softmax - onehot(label)) * scale, in one pass;
    /// `scale` is the upstream gradient divided by n. `gx` may alias `probs`.
    public static func softmaxCrossEntropyBackward(
        probs: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) {
        let sv = V(repeating: scale)
        for r in 0..<n {
            let p = probs + r * k, g = gx + r * k
            var j = 0
            while j + 8 <= k { Lanes.store(Lanes.load(p, j) * sv, g, j); j += 8 }
            while j < k { g[j] = p[j] * scale; j += 1 }
            g[labels[r]] -= scale
        }
    }

    // MARK: Binary cross-entropy

    /// Mean of -(t log p + (1 - t) log(1 - p)) over n probabilities, each log
    /// clamped at -100 as PyTorch's BCELoss does, so p = 0 or 1 stays finite.
    public static func binaryCrossEntropyForward(
        probs: UnsafePointer<Float>, targets: UnsafePointer<Float>, n: Int
    ) -> Double {
        var total = 0.0
        for i in 0..<n {
            let p = Double(probs[i]), t = Double(targets[i])
            let lp = Swift.max(Foundation.log(p), -100), lq = Swift.max(Foundation.log(1 - p), -100)
            total -= t * lp + (1 - t) * lq
        }
        return n == 0 ? 0 : total / Double(n)
    }

    /// gp = scale * (p - t) / max(p (1 - p), 1e-12), PyTorch's BCELoss backward.
    public static func binaryCrossEntropyBackward(
        probs: UnsafePointer<Float>, targets: UnsafePointer<Float>, n: Int, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<n {
            let p = probs[i]
            gx[i] = scale * (p - targets[i]) / Swift.max(p * (1 - p), 1e-12)
        }
    }

    /// Mean of the BCE of sigmoid(z), in the stable form
    /// max(z, 0) - z t + log(1 + e^-|z|) (no exp overflow, no log(0)).
    public static func binaryCrossEntropyWithLogitsForward(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, n: Int
    ) -> Double {
        var total = 0.0
        for i in 0..<n {
            let z = Double(logits[i]), t = Double(targets[i])
            total += Swift.max(z, 0) - z * t + Foundation.log1p(Foundation.exp(-Swift.abs(z)))
        }
        return n == 0 ? 0 : total / Double(n)
    }

    /// gz = scale * (sigmoid(z) - t).
    public static func binaryCrossEntropyWithLogitsBackward(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, n: Int, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) {
        activationForward(.sigmoid, logits, gx, n)
        let sv = V(repeating: scale)
        var i = 0
        while i + 8 <= n { Lanes.store((Lanes.load(gx, i) - Lanes.load(targets, i)) * sv, gx, i); i += 8 }
        while i < n { gx[i] = (gx[i] - targets[i]) * scale; i += 1 }
    }

    // MARK: Squared distances

    /// sum((a - b)^2) over n values.
    public static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + 8 <= n { let d = Lanes.load(a, i) - Lanes.load(b, i); acc = acc.addingProduct(d, d); i += 8 }
        var s = acc.sum()
        while i < n { let d = a[i] - b[i]; s += d * d; i += 1 }
        return s
    }

    /// out = scale * (a - b) over n values.
    public static func scaledDifference(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, scale: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        let sv = V(repeating: scale)
        var i = 0
        while i + 8 <= n { Lanes.store((Lanes.load(a, i) - Lanes.load(b, i)) * sv, out, i); i += 8 }
        while i < n { out[i] = scale * (a[i] - b[i]); i += 1 }
    }

    /// Mean squared error: mean((a - b)^2) over n values, squared sums per
    /// 4096-value block accumulated in Double.
    public static func meanSquaredErrorForward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0
        var i = 0
        while i < n {
            let len = Swift.min(4096, n - i)
            total += Double(squaredDistance(a + i, b + i, len))
            i += len
        }
        return n == 0 ? 0 : total / Double(n)
    }

    // MARK: Triplet loss

    /// Per-row triplet margins max(|a - p|^2 - |a - n|^2 + alpha, 0) for
    /// embeddings [rows, d] (Schroff et al., 2015, FaceNet), written to
    /// `margins`; returns their mean.
    public static func tripletForward(
        anchor: UnsafePointer<Float>, positive: UnsafePointer<Float>, negative: UnsafePointer<Float>,
        rows: Int, d: Int, alpha: Float, margins: UnsafeMutablePointer<Float>
    ) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let o = r * d
            let l = squaredDistance(anchor + o, positive + o, d) - squaredDistance(anchor + o, negative + o, d) + alpha
            margins[r] = Swift.max(l, 0)
            total += Double(margins[r])
        }
        return rows == 0 ? 0 : total / Double(rows)
    }

    /// Backward of `tripletForward` for the rows with a positive margin
    /// (zero elsewhere, and at the kink):
    /// ga = 2s (n - p), gp = -2s (a - p), gn = 2s (a - n), s = scale.
    /// Any output may be nil when that input needs no gradient.
    public static func tripletBackward(
        anchor: UnsafePointer<Float>, positive: UnsafePointer<Float>, negative: UnsafePointer<Float>,
        rows: Int, d: Int, margins: UnsafePointer<Float>, scale: Float,
        ga: UnsafeMutablePointer<Float>?, gp: UnsafeMutablePointer<Float>?, gn: UnsafeMutablePointer<Float>?
    ) {
        let s2 = 2 * scale
        for r in 0..<rows {
            let o = r * d
            let active = margins[r] > 0
            if let ga { scaledDifference(negative + o, positive + o, scale: active ? s2 : 0, ga + o, d) }
            if let gp { scaledDifference(positive + o, anchor + o, scale: active ? s2 : 0, gp + o, d) }
            if let gn { scaledDifference(anchor + o, negative + o, scale: active ? s2 : 0, gn + o, d) }
        }
    }

    // MARK: - References

    /// Plain Double softmax cross-entropy: loss and (softmax - onehot) * scale.
    public static func softmaxCrossEntropyReference(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int>, n: Int, k: Int, scale: Float,
        gx: UnsafeMutablePointer<Float>
    ) -> Double {
        var total = 0.0
        for r in 0..<n {
            var m = -Double.infinity
            for j in 0..<k { m = Swift.max(m, Double(logits[r * k + j])) }
            var s = 0.0
            for j in 0..<k { s += Foundation.exp(Double(logits[r * k + j]) - m) }
            total += m + Foundation.log(s) - Double(logits[r * k + labels[r]])
            for j in 0..<k {
                let p = Foundation.exp(Double(logits[r * k + j]) - m) / s
                gx[r * k + j] = Float((p - (j == labels[r] ? 1 : 0)) * Double(scale))
            }
        }
        return n == 0 ? 0 : total / Double(n)
    }

    /// Plain Double triplet loss and gradients, from the definition.
    public static func tripletReference(
        anchor: UnsafePointer<Float>, positive: UnsafePointer<Float>, negative: UnsafePointer<Float>,
        rows: Int, d: Int, alpha: Float, scale: Float,
        ga: UnsafeMutablePointer<Float>, gp: UnsafeMutablePointer<Float>, gn: UnsafeMutablePointer<Float>
    ) -> Double {
        var total = 0.0
        for r in 0..<rows {
            var dap = 0.0, dan = 0.0
            for j in 0..<d {
                let a = Double(anchor[r * d + j])
                dap += (a - Double(positive[r * d + j])) * (a - Double(positive[r * d + j]))
                dan += (a - Double(negative[r * d + j])) * (a - Double(negative[r * d + j]))
            }
            let l = dap - dan + Double(alpha)
            total += Swift.max(l, 0)
            for j in 0..<d {
                let k = r * d + j
                let a = Double(anchor[k]), p = Double(positive[k]), n = Double(negative[k])
                let s = l > 0 ? 2 * Double(scale) : 0
                ga[k] = Float(s * ((a - p) - (a - n)))
                gp[k] = Float(-s * (a - p))
                gn[k] = Float(s * (a - n))
            }
        }
        return rows == 0 ? 0 : total / Double(rows)
    }
}
