import Foundation

extension Kernels {
    // MARK: Embedding distances

    /// sum_k w_k |a_k - b_k| over n values.
    public static func weightedL1(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, weights w: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let d = Lanes.load(a, i) - Lanes.load(b, i)
            acc = acc.addingProduct(Lanes.load(w, i), d.replacing(with: -d, where: d .< 0))
            i += 8
        }
        var s = acc.sum()
        while i < n { s += w[i] * Swift.abs(a[i] - b[i]); i += 1 }
        return s
    }
}
