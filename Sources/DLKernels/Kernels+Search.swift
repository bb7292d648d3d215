import CBLAS

extension Kernels {
    // MARK: Nearest rows (gallery search)

    /// The `k` rows of `rows` [count, d] nearest to `query` [d] in squared
    /// Euclidean distance, nearest first: |q|^2 + |g|^2 - 2 q.g with the dot
    /// products from one BLAS matrix-vector product (single-threaded; the
    /// rows are read once) and the rows' squared norms given. `scratch`
    /// holds `count` floats. Distances are clamped at 0 (rounding).
    public static func nearestRows(query q: UnsafePointer<Float>, rows: UnsafePointer<Float>, squaredNorms: UnsafePointer<Float>,
                                   count: Int, d: Int, k: Int, scratch: UnsafeMutablePointer<Float>) -> [(index: Int, distance: Float)] {
        guard count > 0, k > 0 else { return [] }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(d), -2, rows, Int32(d), q, 1, 0, scratch, 1)
        let qq = dot(q, q, d)
        return smallest(k, of: count) { i in Swift.max(qq + squaredNorms[i] + scratch[i], 0) }
    }

    /// The `k` rows nearest to `query` under the pair-classifier distance
    /// -(sum_k w_k |q_k - g_k| + bias), nearest first.
    public static func nearestRows(query q: UnsafePointer<Float>, rows: UnsafePointer<Float>, weights w: UnsafePointer<Float>, bias: Float,
                                   count: Int, d: Int, k: Int) -> [(index: Int, distance: Float)] {
        guard count > 0, k > 0 else { return [] }
        return smallest(k, of: count) { i in -(weightedL1(q, rows + i * d, weights: w, d) + bias) }
    }

    /// The k smallest of `value(0..<n)` with their indices, ascending (ties: lower index first).
    static func smallest(_ k: Int, of n: Int, _ value: (Int) -> Float) -> [(index: Int, distance: Float)] {
        var best: [(index: Int, distance: Float)] = []
        best.reserveCapacity(k + 1)
        var worst = Float.infinity
        for i in 0..<n {
            let v = value(i)
            guard best.count < k || v < worst else { continue }
            var at = best.count
            while at > 0, best[at - 1].distance > v { at -= 1 }
            best.insert((i, v), at: at)
            if best.count > k { best.removeLast() }
            if best.count == k { worst = best[k - 1].distance }
        }
        return best
    }
}
