import DLKernels
import DLTensor
import XCTest

/// The gallery search kernels against brute force in Double.
final class SearchKernelTests: XCTestCase {
    func unitRows(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        var v = Tensor.uniform([n, d], low: -1, high: 1, rng: &rng).data
        for i in 0..<n {
            let s = v[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<d { v[i * d + j] /= s }
        }
        return v
    }

    func bruteForce(_ q: [Float], _ rows: [Float], d: Int, k: Int) -> [(Int, Double)] {
        let n = rows.count / d
        var all: [(Int, Double)] = []
        for i in 0..<n {
            var s = 0.0
            for j in 0..<d {
                let diff = Double(q[j]) - Double(rows[i * d + j])
                s += diff * diff
            }
            all.append((i, s))
        }
        all.sort { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        return Array(all.prefix(k))
    }

    func testFloat32AndFloat16SearchesFindTheExactNearestRows() {
        let (n, d, k) = (3000, 128, 5)
        let rows = unitRows(n, d, seed: 1), queries = unitRows(20, d, seed: 2)
        let half = rows.map { Float16($0) }
        let norms = (0..<n).map { i in rows[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 } }
        let halfNorms = (0..<n).map { i in half[(i * d)..<((i + 1) * d)].reduce(0) { $0 + Float($1) * Float($1) } }
        var scratch = [Float](repeating: 0, count: n)
        for qi in 0..<20 {
            let q = Array(queries[(qi * d)..<((qi + 1) * d)])
            let want = bruteForce(q, rows, d: d, k: k)
            let full = Kernels.nearestRows(query: q, rows: rows, squaredNorms: norms, count: n, d: d, k: k, scratch: &scratch)
            let fast = Kernels.nearestRowsHalf(query: q, rows: rows, halfRows: half, halfSquaredNorms: halfNorms, count: n, d: d, k: k,
                                               scratch: &scratch)
            XCTAssertEqual(full.map(\.index), want.map(\.0), "query \(qi), Float32")
            XCTAssertEqual(fast.map(\.index), want.map(\.0), "query \(qi), Float16 + exact re-scoring")
            for (f, w) in zip(fast, want) { XCTAssertEqual(Double(f.distance), w.1, accuracy: 1e-5) }
            for (f, w) in zip(full, want) { XCTAssertEqual(Double(f.distance), w.1, accuracy: 1e-4) }
        }
    }

    func testHalfDotsMatchFloat32DotsWithinFloat16Rounding() {
        let (n, d) = (50, 32)
        let rows = unitRows(n, d, seed: 3), q = unitRows(1, d, seed: 4)
        var out = [Float](repeating: 0, count: n)
        Kernels.halfDots(query: q, rows: rows.map { Float16($0) }, count: n, d: d, out: &out)
        for i in 0..<n {
            let exact = (0..<d).reduce(Float(0)) { $0 + q[$1] * rows[i * d + $1] }
            XCTAssertEqual(out[i], exact, accuracy: 2e-3)
        }
        XCTAssertEqual(Kernels.nearestRowsHalf(query: q, rows: rows, halfRows: rows.map { Float16($0) }, halfSquaredNorms: out,
                                               count: 0, d: d, k: 3, scratch: &out).count, 0)
    }
}
