import DLTensor
@testable import DLTrain
import XCTest

/// The negative-sampling loss: a hand-derived case and finite differences.
final class SkipGramLossTests: XCTestCase {
    /// Runs the fast path on arrays: (loss, dL/dv_c, dL/du for context then noise).
    func forward(_ center: [Float], _ outputs: [[Float]]) -> (Float, [Float], [[Float]]) {
        let d = center.count
        var gc = [Float](repeating: 0, count: d), go = [Float](repeating: 0, count: outputs.count * d)
        let flat = outputs.flatMap { $0 }
        let loss = center.withUnsafeBufferPointer { c in
            flat.withUnsafeBufferPointer { o in
                SkipGramLoss.forward(center: c.baseAddress!, outputs: (0..<outputs.count).map { o.baseAddress! + $0 * d }, dim: d,
                                     gradCenter: &gc, gradOutputs: &go)
            }
        }
        return (loss, gc, (0..<outputs.count).map { Array(go[($0 * d)..<(($0 + 1) * d)]) })
    }

    func testZeroVectorsByHand() {
        // x = 0 everywhere: every unit gives log 2, so L = (1 + k) log 2 with k = 2.
        // dL/dv_c = (σ(0) - 1) u_o + σ(0) (u_1 + u_2) = -0.5 [1, 2] + 0.5 ([3, 0] + [0, 4]) = [1, 1].
        let (loss, gc, gu) = forward([0, 0], [[1, 2], [3, 0], [0, 4]])
        XCTAssertEqual(loss, 3 * log(2), accuracy: 1e-6)
        XCTAssertEqual(gc, [1, 1])
        XCTAssertEqual(gu, [[0, 0], [0, 0], [0, 0]], "dL/du is a multiple of v_c = 0")
    }

    func testLargeDotProductsDoNotOverflow() {
        let (loss, gc, _) = forward([100, 0], [[100, 0], [-100, 0]])
        XCTAssertEqual(loss, 0, accuracy: 1e-6, "σ(1e4) = 1 for the context and σ(-(-1e4)) = 1 for the noise")
        XCTAssertTrue(gc.allSatisfy(\.isFinite))
        let (bad, _, _) = forward([100, 0], [[-100, 0]])
        XCTAssertEqual(bad, 1e4, accuracy: 1, "-log σ(-1e4) = 1e4")
    }

    /// dL/d(every input) against central differences of the Double reference,
    /// with a noise word drawn twice (its gradients add up).
    func testGradientsMatchFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let d = 8
        let center = Tensor.normal([d], std: 0.7, rng: &rng).data
        var outputs = (0..<4).map { _ in Tensor.normal([d], std: 0.7, rng: &rng).data }
        outputs.append(outputs[2])  // the same noise word twice
        let (_, gc, gu) = forward(center, outputs)
        let h = 1e-6
        func loss(_ c: [Double], _ o: [[Double]]) -> Double { SkipGramLoss.reference(center: c, context: o[0], noise: Array(o[1...])) }
        let c64 = center.map(Double.init), o64 = outputs.map { $0.map(Double.init) }
        var worst = 0.0
        func compare(_ analytic: Float, _ numeric: Double) {
            worst = max(worst, abs(Double(analytic) - numeric) / max(1e-3, abs(numeric)))
        }
        for i in 0..<d {
            var p = c64, m = c64
            p[i] += h; m[i] -= h
            compare(gc[i], (loss(p, o64) - loss(m, o64)) / (2 * h))
        }
        // Output rows 0 (context), 1, 3 and the repeated row 2/4, whose gradient is the sum.
        for rowsSharing in [[0], [1], [3], [2, 4]] {
            for i in 0..<d {
                var p = o64, m = o64
                for r in rowsSharing { p[r][i] += h; m[r][i] -= h }
                let analytic = rowsSharing.reduce(Float(0)) { $0 + gu[$1][i] }
                compare(analytic, (loss(c64, p) - loss(c64, m)) / (2 * h))
            }
        }
        XCTAssertLessThan(worst, 1e-4)
    }

    func testNoiseFollowsTheThreeQuarterPower() {
        let counts = [0, 0, 1000, 100, 10, 1]
        let noise = NoiseDistribution(counts: counts)
        let z = counts.reduce(0.0) { $0 + pow(Double($1), 0.75) }
        for (i, n) in counts.enumerated() { XCTAssertEqual(noise.probability(i), pow(Double(n), 0.75) / z, accuracy: 1e-12) }
        var rng = SeededGenerator(seed: 1)
        var seen = [Int](repeating: 0, count: counts.count)
        let draws = 200_000
        for _ in 0..<draws { seen[noise.sample(&rng)] += 1 }
        XCTAssertEqual(seen[0] + seen[1], 0, "ids never seen are never drawn")
        for i in 2..<counts.count {
            XCTAssertEqual(Double(seen[i]) / Double(draws), noise.probability(i), accuracy: 0.005, "id \(i)")
        }
    }
}
