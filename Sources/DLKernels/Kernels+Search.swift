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

extension Kernels {
    /// Dot products of `query` [d] with each of `count` Float16 rows [count, d]
    /// (d a multiple of 16), converted to Float in registers (F16C): half the
    /// bytes of a Float32 matrix to read, which is what bounds a gallery search.
    public static func halfDots(query q: UnsafePointer<Float>, rows: UnsafePointer<Float16>, count: Int, d: Int,
                                out: UnsafeMutablePointer<Float>) {
        precondition(d % 16 == 0, "halfDots: d \(d) must be a multiple of 16")
        let lanes = d / 8
        let qv = UnsafeMutablePointer<V>.allocate(capacity: lanes)
        defer { qv.deallocate() }
        for j in 0..<lanes { qv[j] = Lanes.load(q, j * 8) }
        for i in 0..<count {
            var a0 = V(), a1 = V()
            let base = UnsafeRawPointer(rows + i * d)
            var j = 0
            while j < lanes {
                a0.addProduct(V(base.loadUnaligned(fromByteOffset: j * 16, as: SIMD8<Float16>.self)), qv[j])
                a1.addProduct(V(base.loadUnaligned(fromByteOffset: (j + 1) * 16, as: SIMD8<Float16>.self)), qv[j + 1])
                j += 2
            }
            out[i] = (a0 + a1).sum()
        }
    }

    /// `nearestRows` (squared Euclidean) over a Float16 copy of the rows: the
    /// distances of every row from `halfDots` (with the Float16 rows' squared
    /// norms), then the best `k + 16` re-scored exactly on the Float32 rows,
    /// so the distances returned are exact. `scratch` holds `count` floats.
    public static func nearestRowsHalf(query q: UnsafePointer<Float>, rows: UnsafePointer<Float>, halfRows: UnsafePointer<Float16>,
                                       halfSquaredNorms: UnsafePointer<Float>, count: Int, d: Int, k: Int,
                                       scratch: UnsafeMutablePointer<Float>) -> [(index: Int, distance: Float)] {
        guard count > 0, k > 0 else { return [] }
        halfDots(query: q, rows: halfRows, count: count, d: d, out: scratch)
        let qq = dot(q, q, d)
        let candidates = smallest(k + 16, of: count) { i in qq + halfSquaredNorms[i] - 2 * scratch[i] }
        let exact = candidates.map { (index: $0.index, distance: squaredDistance(q, rows + $0.index * d, d)) }
            .sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.index < $1.index }
        return Array(exact.prefix(k))
    }
}
