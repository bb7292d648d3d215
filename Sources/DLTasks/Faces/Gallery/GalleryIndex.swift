import DLKernels
import DLNN
import Foundation

/// One model version's gallery in memory: every identity's template as one
/// contiguous row-major matrix [count, dim], and a Float16 copy with its
/// squared norms. The squared Euclidean search reads the Float16 copy (half
/// the bytes: the search is memory bound) and re-scores its best candidates
/// exactly (`Kernels.nearestRowsHalf`); the pair classifier's is SIMD
/// weighted L1 over the Float32 rows. Rows are appended on enrollment and swapped out
/// on deletion. Not thread-safe: `FaceGallery` guards it.
package struct GalleryIndex {
    let version: Int
    let verification: VerificationFile
    private(set) var ids: [Int64] = []
    private(set) var names: [String] = []
    private(set) var vectors: [Float] = []
    private(set) var squaredNorms: [Float] = []
    private var half: [Float16] = []
    private var halfNorms: [Float] = []
    private var scratch: [Float] = []
    private var rowOf: [Int64: Int] = [:]

    package var count: Int { ids.count }
    package var dim: Int { verification.dim }

    package init(version: Int, verification: VerificationFile) { (self.version, self.verification) = (version, verification) }

    package mutating func add(id: Int64, name: String, vector: [Float]) {
        precondition(vector.count == dim, "GalleryIndex: \(vector.count) values for dim \(dim)")
        if let row = rowOf[id] { remove(row: row) }
        rowOf[id] = ids.count
        ids.append(id); names.append(name); vectors += vector
        squaredNorms.append(vector.reduce(0) { $0 + $1 * $1 })
        let h = vector.map { Float16($0) }
        half += h
        halfNorms.append(h.reduce(0) { $0 + Float($1) * Float($1) })
    }

    /// Adds the stored templates of this index's dimension (a record of
    /// another size, from another model or a damaged file, is skipped).
    package mutating func add(stored templates: [(id: Int64, name: String, vector: [Float]?)]) {
        for t in templates {
            if let v = t.vector, v.count == dim { add(id: t.id, name: t.name, vector: v) }
        }
    }

    package mutating func remove(id: Int64) {
        if let row = rowOf[id] { remove(row: row) }
    }

    /// Moves the last row into `row`'s place.
    private mutating func remove(row: Int) {
        let last = ids.count - 1
        rowOf[ids[row]] = nil
        if row != last {
            ids[row] = ids[last]; names[row] = names[last]; squaredNorms[row] = squaredNorms[last]; halfNorms[row] = halfNorms[last]
            for j in 0..<dim { vectors[row * dim + j] = vectors[last * dim + j]; half[row * dim + j] = half[last * dim + j] }
            rowOf[ids[row]] = row
        }
        ids.removeLast(); names.removeLast(); squaredNorms.removeLast(); halfNorms.removeLast()
        vectors.removeLast(dim); half.removeLast(dim)
    }

    /// The k identities nearest to `query`, nearest first.
    package mutating func nearest(_ query: [Float], k: Int) -> [(id: Int64, name: String, distance: Float)] {
        precondition(query.count == dim, "GalleryIndex: query of \(query.count) values for dim \(dim)")
        var buffer = scratch
        scratch = []
        if buffer.count < count { buffer = [Float](repeating: 0, count: count) }
        defer { scratch = buffer }
        let n = count, dim = dim, verification = verification
        let found: [(index: Int, distance: Float)] = query.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { g in
                switch verification.metric {
                case .squaredEuclidean where dim % 16 == 0:
                    return half.withUnsafeBufferPointer { h in
                        halfNorms.withUnsafeBufferPointer { norms in
                            buffer.withUnsafeMutableBufferPointer { s in
                                Kernels.nearestRowsHalf(query: q.baseAddress!, rows: g.baseAddress!, halfRows: h.baseAddress!,
                                                        halfSquaredNorms: norms.baseAddress!, count: n, d: dim, k: k, scratch: s.baseAddress!)
                            }
                        }
                    }
                case .squaredEuclidean:
                    return squaredNorms.withUnsafeBufferPointer { norms in
                        buffer.withUnsafeMutableBufferPointer { s in
                            Kernels.nearestRows(query: q.baseAddress!, rows: g.baseAddress!, squaredNorms: norms.baseAddress!,
                                                count: n, d: dim, k: k, scratch: s.baseAddress!)
                        }
                    }
                case .pairClassifier:
                    return verification.weights!.withUnsafeBufferPointer { w in
                        Kernels.nearestRows(query: q.baseAddress!, rows: g.baseAddress!, weights: w.baseAddress!, bias: verification.bias!,
                                            count: n, d: dim, k: k)
                    }
                }
            }
        }
        return found.map { (ids[$0.index], names[$0.index], $0.distance) }
    }
}
