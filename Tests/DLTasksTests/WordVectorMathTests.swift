import DLTasks
import DLTensor
import XCTest

/// Hand-derived cases of the word-vector arithmetic (always run).
final class WordVectorMathTests: XCTestCase {
    typealias M = WordVectorMath

    func testCosineAndDistance() {
        // [1,0,1].[-1,1,1] = 0, so cos = 0; [1,1,0].[1,0,0] = 1 over sqrt(2) * 1.
        XCTAssertEqual(M.cosine([1, 0, 1], [-1, 1, 1]), 0, accuracy: 1e-12)
        XCTAssertEqual(M.cosine([1, 1, 0], [1, 0, 0]), 1 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(M.cosine([2, 0, 0], [-3, 0, 0]), -1, accuracy: 1e-12)
        XCTAssertEqual(M.cosine([0, 0, 0], [1, 2, 3]), 0, "a zero vector has cosine 0 with anything")
        XCTAssertEqual(M.distance([1, 2, 3], [4, 6, 3]), 5, accuracy: 1e-12)
    }

    func testBiasDirectionIsTheMeanOfThePairDifferences() {
        // (b - a) = [-2, 0, 0] and [-4, 2, 0]: mean [-3, 1, 0].
        let g = M.biasDirection([([1, 0, 1], [-1, 0, 1]), ([2, 0, 0], [-2, 2, 0])])
        XCTAssertEqual(g, [-3, 1, 0])
    }

    func testNeutralizeLeavesNoProjectionOnTheBiasDirection() {
        let g: [Float] = [-2, 0, 0]
        // nurse = [0.5, 2, 0]: e.g / |g| = -1 / 2; neutralized: [0, 2, 0].
        XCTAssertEqual(M.projection([0.5, 2, 0], on: g), -0.5, accuracy: 1e-12)
        XCTAssertEqual(M.neutralize([0.5, 2, 0], g), [0, 2, 0])
        // Any vector, any direction: the projection after is ~0.
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20 {
            let e = Tensor.normal([50], std: 1, rng: &rng).data, d = Tensor.normal([50], std: 1, rng: &rng).data
            XCTAssertEqual(M.projection(M.neutralize(e, d), on: d), 0, accuracy: 1e-5)
            XCTAssertEqual(M.cosine(M.neutralize(e, d), d), 0, accuracy: 1e-5)
        }
    }

    func testEqualizeByHand() {
        // g = [-2, 0, 0], boy = [1, 0, 0.9], girl = [-0.6, 0.3, 0.9]:
        // mu = [0.2, 0.15, 0.9], mu_B = [0.2, 0, 0], mu_orth = [0, 0.15, 0.9],
        // |mu_orth|^2 = 0.8325, root = sqrt(0.1675) = 0.409268;
        // boy_B - mu_B = [0.8, 0, 0] -> unit [1, 0, 0]; girl_B - mu_B = [-0.8, 0, 0] -> [-1, 0, 0].
        let (boy, girl) = M.equalize([1, 0, 0.9], [-0.6, 0.3, 0.9], [-2, 0, 0])
        let r = Float(0.1675.squareRoot())
        for (x, y) in zip(boy, [r, 0.15, 0.9] as [Float]) { XCTAssertEqual(x, y, accuracy: 1e-6) }
        for (x, y) in zip(girl, [-r, 0.15, 0.9] as [Float]) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    }

    func testEqualizedPairsAreEquidistantFromNeutralWords() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<10 {
            let g = Tensor.normal([50], std: 1, rng: &rng).data
            let e1 = Tensor.normal([50], std: 1, rng: &rng).data, e2 = Tensor.normal([50], std: 1, rng: &rng).data
            let (a, b) = M.equalize(e1, e2, g)
            // Mirror images along g: opposite projections, the same part off g.
            XCTAssertEqual(M.projection(a, on: g), -M.projection(b, on: g), accuracy: 1e-5)
            for (x, y) in zip(M.neutralize(a, g), M.neutralize(b, g)) { XCTAssertEqual(x, y, accuracy: 1e-5, "same part off g") }
            for _ in 0..<5 {
                let n = M.neutralize(Tensor.normal([50], std: 1, rng: &rng).data, g)
                let da = M.distance(a, n), db = M.distance(b, n)
                XCTAssertEqual(da, db, accuracy: 1e-5 * max(1, da))
            }
        }
    }

    func testTopSkipsExcludedRowsAndBreaksTiesTowardTheLowerRow() {
        let scores: [Float] = [0.5, 0.9, 0.9, 0.1, .nan, 0.95]
        XCTAssertEqual(M.top(scores, k: 3).map(\.row), [5, 1, 2])
        XCTAssertEqual(M.top(scores, k: 2, excluding: [5]).map(\.row), [1, 2])
        XCTAssertEqual(M.top(scores, k: 2, excluding: [1, 5]).map(\.row), [2, 0])
        XCTAssertEqual(M.top(scores, k: 10).count, 5, "NaN is never an answer")
    }

    /// The BLAS product against one cosine per row in Double.
    func testMatrixCosinesMatchTheReference() {
        var rng = SeededGenerator(seed: 3)
        let rows = 300, dim = 50
        var e = Tensor.normal([rows, dim], std: 1, rng: &rng).data
        for j in 0..<dim { e[7 * dim + j] = 0 }  // a zero row
        let q = Tensor.normal([dim], std: 1, rng: &rng).data
        let got = M.cosines(e, rows: rows, dim: dim, norms: M.rowNorms(e, rows: rows, dim: dim), query: q)
        for r in 0..<rows {
            let want = M.cosine(Array(e[(r * dim)..<((r + 1) * dim)]), q)
            XCTAssertEqual(Double(got[r]), want, accuracy: 1e-6, "row \(r)")
        }
        XCTAssertEqual(got[7], 0)
    }
}
