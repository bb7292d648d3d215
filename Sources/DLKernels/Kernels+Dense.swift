import CBLAS

/// Fully connected layer kernels, PyTorch layout: x [n, in], weight [out, in],
/// bias [out], y = x W^T + b [n, out]. Also the small elementwise helpers the
/// dense-family layers use (column sums, products).
extension Kernels {
    /// y = x W^T + b. The bias is written into y first and the product added
    /// onto it by the GEMM (beta = 1), so the bias add costs no extra pass.
    public static func linearForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>, n: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let bias {
            for r in 0..<n { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        if n == 1 {
            // Batch-1 inference: a matrix-vector product skips GEMM's packing.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), 1, weight,
                        Int32(inFeatures), x, 1, bias == nil ? 0 : 1, y, 1)
            return
        }
        if n <= smallBatchRows && inFeatures >= 64 {
            smallBatchLinear(x: x, weight: weight, y: y, accumulate: bias != nil, n: n, inFeatures: inFeatures, outFeatures: outFeatures)
            return
        }
        gemm(transA: false, transB: true, m: n, n: outFeatures, k: inFeatures,
             a: x, lda: inFeatures, b: weight, ldb: inFeatures,
             beta: bias == nil ? 0 : 1, c: y, ldc: outFeatures)
    }

    /// Up to this many rows, `linearForward` reads each weight row once and
    /// dots it with every input row (a face's ten test-time views, a small
    /// serving batch): GEMM would pack the whole weight matrix on every call,
    /// which cost more than the product at these sizes (face-embed's 2048 x 128
    /// layer at 10 rows: 0.4 ms through sgemm, most of it packing).
    public static let smallBatchRows = 16

    /// y[r, j] (+)= x[r, :] . W[j, :] for n <= smallBatchRows, four input rows
    /// at a time in 8-wide SIMD; output columns split over the kernels' threads
    /// when the product is large.
    static func smallBatchLinear(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                 accumulate: Bool, n: Int, inFeatures k: Int, outFeatures m: Int) {
        let chunks = n * m * k >= 1 << 24 ? chunkCount(m) : 1
        let k8 = k & ~7
        parallelChunks(m, chunks: chunks) { _, columns in
            for j in columns {
                let w = weight + j * k
                var r = 0
                while r < n {
                    let rows = Swift.min(4, n - r)
                    let x0 = x + r * k
                    let x1 = x + Swift.min(r + 1, n - 1) * k, x2 = x + Swift.min(r + 2, n - 1) * k, x3 = x + Swift.min(r + 3, n - 1) * k
                    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                    var i = 0
                    while i < k8 {
                        let wv = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<Float>.self)
                        a0 = a0.addingProduct(UnsafeRawPointer(x0 + i).loadUnaligned(as: SIMD8<Float>.self), wv)
                        a1 = a1.addingProduct(UnsafeRawPointer(x1 + i).loadUnaligned(as: SIMD8<Float>.self), wv)
                        a2 = a2.addingProduct(UnsafeRawPointer(x2 + i).loadUnaligned(as: SIMD8<Float>.self), wv)
                        a3 = a3.addingProduct(UnsafeRawPointer(x3 + i).loadUnaligned(as: SIMD8<Float>.self), wv)
                        i += 8
                    }
                    var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                    while i < k {
                        let wv = w[i]
                        s0 += x0[i] * wv; s1 += x1[i] * wv; s2 += x2[i] * wv; s3 += x3[i] * wv
                        i += 1
                    }
                    for q in 0..<rows {
                        let v = q == 0 ? s0 : q == 1 ? s1 : q == 2 ? s2 : s3
                        let out = y + (r + q) * m + j
                        out.pointee = accumulate ? out.pointee + v : v
                    }
                    r += 4
                }
            }
        }
    }

    /// Backward of `linearForward` for upstream gy [n, out]; each output is
    /// overwritten and may be nil when not needed:
    /// gx = gy W [n, in], gW = gy^T x [out, in], gb = column sums of gy [out].
    public static func linearBackward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gy: UnsafePointer<Float>,
        n: Int, inFeatures: Int, outFeatures: Int,
        gx: UnsafeMutablePointer<Float>?, gWeight: UnsafeMutablePointer<Float>?, gBias: UnsafeMutablePointer<Float>?
    ) {
        if let gx {
            gemm(transA: false, transB: false, m: n, n: inFeatures, k: outFeatures,
                 a: gy, lda: outFeatures, b: weight, ldb: inFeatures, c: gx, ldc: inFeatures)
        }
        if let gWeight {
            gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: n,
                 a: gy, lda: outFeatures, b: x, ldb: inFeatures, c: gWeight, ldc: inFeatures)
        }
        if let gBias { columnSums(gy, rows: n, cols: outFeatures, gBias) }
    }

    /// out[j] = sum over rows of x[r, j], 8 columns at a time.
    public static func columnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int, _ out: UnsafeMutablePointer<Float>) {
        out.initialize(repeating: 0, count: cols)
        for r in 0..<rows {
            let row = x + r * cols
            var j = 0
            while j + 8 <= cols { Lanes.store(Lanes.load(out, j) + Lanes.load(row, j), out, j); j += 8 }
            while j < cols { out[j] += row[j]; j += 1 }
        }
    }

    /// z = x * y elementwise (dropout masks). `z` may alias either input.
    public static func elementwiseProduct(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        var i = 0
        while i + 8 <= n { Lanes.store(Lanes.load(x, i) * Lanes.load(y, i), z, i); i += 8 }
        while i < n { z[i] = x[i] * y[i]; i += 1 }
    }

    /// z = x + y elementwise (residual additions). `z` may alias either input.
    public static func elementwiseSum(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        var i = 0
        while i + 8 <= n { Lanes.store(Lanes.load(x, i) + Lanes.load(y, i), z, i); i += 8 }
        while i < n { z[i] = x[i] + y[i]; i += 1 }
    }

    // MARK: - References

    /// Plain loops with the contract of `linearForward`.
    public static func linearForwardReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>, n: Int, inFeatures: Int, outFeatures: Int
    ) {
        for r in 0..<n {
            for o in 0..<outFeatures {
                var s = Double(bias?[o] ?? 0)
                for i in 0..<inFeatures { s += Double(x[r * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                y[r * outFeatures + o] = Float(s)
            }
        }
    }

    /// Plain loops with the contract of `linearBackward` (all outputs).
    public static func linearBackwardReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gy: UnsafePointer<Float>,
        n: Int, inFeatures: Int, outFeatures: Int,
        gx: UnsafeMutablePointer<Float>, gWeight: UnsafeMutablePointer<Float>, gBias: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<n {
            for i in 0..<inFeatures {
                var s = 0.0
                for o in 0..<outFeatures { s += Double(gy[r * outFeatures + o]) * Double(weight[o * inFeatures + i]) }
                gx[r * inFeatures + i] = Float(s)
            }
        }
        for o in 0..<outFeatures {
            for i in 0..<inFeatures {
                var s = 0.0
                for r in 0..<n { s += Double(gy[r * outFeatures + o]) * Double(x[r * inFeatures + i]) }
                gWeight[o * inFeatures + i] = Float(s)
            }
            var b = 0.0
            for r in 0..<n { b += Double(gy[r * outFeatures + o]) }
            gBias[o] = Float(b)
        }
    }
}
