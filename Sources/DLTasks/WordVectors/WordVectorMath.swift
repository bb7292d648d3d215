import DLKernels
import Foundation

/// The word-vector arithmetic of the course's embeddings week, as pure
/// functions on vectors (`[Float]` of one length D) and on the row-major
/// matrix E [N, D] of a model's vectors (row r is word r).
///
/// Vector operations accumulate in Double: neutralize must leave a projection
/// of ~0 on the bias direction, and float32 sums of 50 terms would leave
/// ~1e-7 of the vector's length behind (still far below the tests' 1e-5).
public enum WordVectorMath {
    // MARK: Vectors

    public static func dot(_ u: [Float], _ v: [Float]) -> Double {
        precondition(u.count == v.count, "WordVectorMath.dot: lengths \(u.count) and \(v.count)")
        var s = 0.0
        for i in u.indices { s += Double(u[i]) * Double(v[i]) }
        return s
    }

    public static func norm(_ u: [Float]) -> Double { dot(u, u).squareRoot() }

    /// Cosine similarity u.v / (|u| |v|) (course notes, eq. 4.15); 0 when
    /// either vector is zero.
    public static func cosine(_ u: [Float], _ v: [Float]) -> Double {
        let n = norm(u) * norm(v)
        return n == 0 ? 0 : dot(u, v) / n
    }

    /// Euclidean distance |u - v| (course notes, eq. 4.16).
    public static func distance(_ u: [Float], _ v: [Float]) -> Double {
        precondition(u.count == v.count, "WordVectorMath.distance: lengths \(u.count) and \(v.count)")
        var s = 0.0
        for i in u.indices { let d = Double(u[i]) - Double(v[i]); s += d * d }
        return s.squareRoot()
    }

    /// a x + b y, elementwise.
    public static func combine(_ a: Double, _ x: [Float], _ b: Double, _ y: [Float]) -> [Float] {
        precondition(x.count == y.count, "WordVectorMath.combine: lengths \(x.count) and \(y.count)")
        return x.indices.map { Float(a * Double(x[$0]) + b * Double(y[$0])) }
    }

    // MARK: Debiasing (Bolukbasi et al. 2016, "Man is to Computer Programmer as Woman is to Homemaker?")

    /// The bias direction g of definitional pairs (a, b), e.g. (man, woman),
    /// (he, she): the mean of the differences e_b - e_a. Not normalized, as
    /// in the course exercise, whose g = e_woman - e_man is this with one
    /// pair; the projections below divide by |g| or |g|^2 accordingly. The
    /// lecture suggests averaging several differences; the paper takes the
    /// first principal component of the centred pairs instead, which for
    /// pairs of similar offsets points the same way.
    public static func biasDirection(_ pairs: [(a: [Float], b: [Float])]) -> [Float] {
        precondition(!pairs.isEmpty, "WordVectorMath.biasDirection: no pairs")
        let d = pairs[0].a.count
        var g = [Double](repeating: 0, count: d)
        for p in pairs {
            precondition(p.a.count == d && p.b.count == d, "WordVectorMath.biasDirection: vectors of different lengths")
            for i in 0..<d { g[i] += Double(p.b[i]) - Double(p.a[i]) }
        }
        return g.map { Float($0 / Double(pairs.count)) }
    }

    /// The signed length of e along g: e.g / |g|.
    public static func projection(_ e: [Float], on g: [Float]) -> Double {
        let n = norm(g)
        return n == 0 ? 0 : dot(e, g) / n
    }

    /// e_B = (e.g / |g|^2) g, the part of e along g.
    public static func biasComponent(_ e: [Float], _ g: [Float]) -> [Float] {
        let gg = dot(g, g)
        precondition(gg > 0, "WordVectorMath: zero bias direction")
        let s = dot(e, g) / gg
        return g.map { Float(s * Double($0)) }
    }

    /// neutralize(e) = e - (e.g / |g|^2) g: e without its part along g, for
    /// words that should be neutral ("receptionist", "engineer").
    public static func neutralize(_ e: [Float], _ g: [Float]) -> [Float] {
        let gg = dot(g, g)
        precondition(gg > 0, "WordVectorMath.neutralize: zero bias direction")
        let s = dot(e, g) / gg
        return e.indices.map { Float(Double(e[$0]) - s * Double(g[$0])) }
    }

    /// Equalize a definitional pair (w1, w2), e.g. (boy, girl), so the two
    /// differ only along g and are equidistant from every neutralized word:
    ///
    ///     mu = (e1 + e2) / 2,   mu_B = (mu.g / |g|^2) g,   mu_orth = mu - mu_B
    ///     e_wB = (e_w.g / |g|^2) g
    ///     e_w' = mu_orth + sqrt(|1 - |mu_orth|^2|) (e_wB - mu_B) / |e_wB - mu_B|
    ///
    /// The denominator is the paper's, so the bias part is a unit direction
    /// times the root; the course exercise divides by |e_w - mu| instead,
    /// which is not a unit direction (the course README says to follow the
    /// paper where a course formula looks wrong). The |.| under the root is
    /// the course's: the paper assumes unit vectors, and raw GloVe vectors
    /// have |mu_orth| > 1. Both results share mu_orth, which is orthogonal to
    /// g, and are mirror images along g, hence equidistant from any vector
    /// orthogonal to g (a neutralized word).
    public static func equalize(_ e1: [Float], _ e2: [Float], _ g: [Float]) -> (first: [Float], second: [Float]) {
        let d = g.count
        precondition(e1.count == d && e2.count == d, "WordVectorMath.equalize: vectors of different lengths")
        let gg = dot(g, g)
        precondition(gg > 0, "WordVectorMath.equalize: zero bias direction")
        let mu = (0..<d).map { (Double(e1[$0]) + Double(e2[$0])) / 2 }
        let muDotG = (0..<d).reduce(0.0) { $0 + mu[$1] * Double(g[$1]) }
        let muB = (0..<d).map { muDotG / gg * Double(g[$0]) }
        let muOrth = (0..<d).map { mu[$0] - muB[$0] }
        let scale = abs(1 - muOrth.reduce(0) { $0 + $1 * $1 }).squareRoot()
        func one(_ e: [Float]) -> [Float] {
            let s = dot(e, g) / gg
            let diff = (0..<d).map { s * Double(g[$0]) - muB[$0] }
            let n = diff.reduce(0) { $0 + $1 * $1 }.squareRoot()
            // e_wB == mu_B only when both words project equally on g: nothing to mirror.
            return (0..<d).map { Float(muOrth[$0] + (n == 0 ? 0 : scale * diff[$0] / n)) }
        }
        return (one(e1), one(e2))
    }

    // MARK: The matrix

    /// |E_r| for each row of E [rows, dim].
    public static func rowNorms(_ matrix: [Float], rows: Int, dim: Int) -> [Float] {
        precondition(matrix.count == rows * dim, "WordVectorMath.rowNorms: \(matrix.count) values for [\(rows), \(dim)]")
        return matrix.withUnsafeBufferPointer { m in
            (0..<rows).map { r in Kernels.dot(m.baseAddress! + r * dim, m.baseAddress! + r * dim, dim).squareRoot() }
        }
    }

    /// cos(E_r, q) for every row: E q (one BLAS product, [rows, dim] x [dim])
    /// divided by |E_r| |q|; 0 for a zero row or a zero query.
    public static func cosines(_ matrix: [Float], rows: Int, dim: Int, norms: [Float], query: [Float]) -> [Float] {
        precondition(matrix.count == rows * dim && norms.count == rows && query.count == dim,
                     "WordVectorMath.cosines: E \(matrix.count) values, \(norms.count) norms, query \(query.count) for [\(rows), \(dim)]")
        var out = [Float](repeating: 0, count: rows)
        let qn = Float(norm(query))
        guard qn > 0, rows > 0 else { return out }
        matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                out.withUnsafeMutableBufferPointer { o in
                    Kernels.gemm(transA: false, transB: false, m: rows, n: 1, k: dim, a: m.baseAddress!, lda: dim,
                                 b: q.baseAddress!, ldb: 1, c: o.baseAddress!, ldc: 1)
                }
            }
        }
        for r in 0..<rows { out[r] = norms[r] > 0 ? out[r] / (norms[r] * qn) : 0 }
        return out
    }

    /// The `k` highest scores, highest first, skipping the rows in `excluded`
    /// and non-finite scores; ties go to the lower row (the more frequent word).
    public static func top(_ scores: [Float], k: Int, excluding excluded: Set<Int> = []) -> [(row: Int, score: Float)] {
        precondition(k >= 0, "WordVectorMath.top: k = \(k)")
        var best: [(row: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        for (r, s) in scores.enumerated() where s.isFinite {
            if best.count == k, let last = best.last, s <= last.score { continue }
            if excluded.contains(r) { continue }
            // Insert after every score >= s, so an equal score keeps its lower row first.
            var i = best.count
            while i > 0 && best[i - 1].score < s { i -= 1 }
            best.insert((r, s), at: i)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
