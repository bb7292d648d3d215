import DLKernels
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Fast dense, batch-norm and loss kernels held against their plain references.
final class DenseKernelTests: XCTestCase {
    var rng = SeededGenerator(seed: 21)

    func randn(_ n: Int, std: Float = 1, mean: Float = 0) -> [Float] {
        Tensor.normal([n], std: std, rng: &rng).data.map { $0 + mean }
    }

    func testLinearMatchesReference() {
        // Small batches of wide inputs take the small-batch kernel (n <= 16, >= 64 features; ragged rows and columns);
        // (16, 2048, 600) is big enough to split its columns over threads.
        for (n, i, o) in [(5, 7, 3), (1, 16, 9), (1, 400, 120), (8, 1, 1), (2, 64, 5), (7, 203, 11), (10, 2048, 128), (16, 2048, 600), (17, 100, 3)] {
            let x = randn(n * i), w = randn(o * i), b = randn(o), gy = randn(n * o)
            var y = [Float](repeating: 0, count: n * o), yRef = y
            Kernels.linearForward(x: x, weight: w, bias: b, y: &y, n: n, inFeatures: i, outFeatures: o)
            Kernels.linearForwardReference(x: x, weight: w, bias: b, y: &yRef, n: n, inFeatures: i, outFeatures: o)
            // Sums of i terms of size ~1 in another order: rounding grows with sqrt(i).
            let atol = 1e-5 * Swift.max(1, Float(i).squareRoot() / 4)
            assertClose(y, yRef, rtol: 1e-5, atol: atol, "forward \((n, i, o))")
            Kernels.linearForward(x: x, weight: w, bias: nil, y: &y, n: n, inFeatures: i, outFeatures: o)
            Kernels.linearForwardReference(x: x, weight: w, bias: nil, y: &yRef, n: n, inFeatures: i, outFeatures: o)
            assertClose(y, yRef, rtol: 1e-5, atol: atol, "forward without bias \((n, i, o))")

            var gx = [Float](repeating: 0, count: n * i), gw = [Float](repeating: 0, count: o * i)
            var gb = [Float](repeating: 0, count: o)
            var gxR = gx, gwR = gw, gbR = gb
            Kernels.linearBackward(x: x, weight: w, gy: gy, n: n, inFeatures: i, outFeatures: o, gx: &gx, gWeight: &gw, gBias: &gb)
            Kernels.linearBackwardReference(x: x, weight: w, gy: gy, n: n, inFeatures: i, outFeatures: o, gx: &gxR, gWeight: &gwR, gBias: &gbR)
            // gx sums over the o outputs (600 in the largest case): the same sqrt growth.
            assertClose(gx, gxR, rtol: 1e-5, atol: 1e-5 * Swift.max(1, Float(o).squareRoot() / 4), "gx")
            assertClose(gw, gwR, rtol: 1e-5, atol: 1e-5, "gw")
            assertClose(gb, gbR, rtol: 1e-5, atol: 1e-5, "gb")
        }
    }

    func testBatchNormMatchesReference() {
        // s == 1 ([N, C]) with a channel tail, s > 1 (NCHW) with and without a tail.
        for (n, c, s) in [(6, 11, 1), (4, 3, 10), (2, 5, 16), (1, 2, 1)] {
            let count = n * c * s
            // An offset mean tests the two-pass variance.
            let x = randn(count, std: 2, mean: 30), gy = randn(count)
            let gamma = randn(c, std: 0.5, mean: 1), beta = randn(c)
            var mean = [Float](repeating: 0, count: c), variance = mean, meanR = mean, varR = mean
            Kernels.batchNormStatistics(x, n: n, c: c, s: s, mean: &mean, variance: &variance)
            Kernels.batchNormStatisticsReference(x, n: n, c: c, s: s, mean: &meanR, variance: &varR)
            assertClose(mean, meanR, rtol: 1e-6, atol: 1e-5, "mean \((n, c, s))")
            assertClose(variance, varR, rtol: 1e-4, atol: 1e-5, "variance \((n, c, s))")
            let rstd = varR.map { 1 / ($0 + 1e-5).squareRoot() }

            var y = [Float](repeating: 0, count: count), yR = y
            Kernels.batchNormNormalize(x, &y, n: n, c: c, s: s, mean: meanR, rstd: rstd, gamma: gamma, beta: beta)
            Kernels.batchNormNormalizeReference(x, &yR, n: n, c: c, s: s, mean: meanR, rstd: rstd, gamma: gamma, beta: beta)
            assertClose(y, yR, rtol: 1e-4, atol: 1e-4, "normalize \((n, c, s))")

            for batch in [true, false] {
                var gx = [Float](repeating: 0, count: count), gxR = gx
                var gg = [Float](repeating: 0, count: c), gb = gg, ggR = gg, gbR = gg
                Kernels.batchNormBackward(x: x, gy: gy, n: n, c: c, s: s, mean: meanR, rstd: rstd, gamma: gamma,
                                          batchStatistics: batch, gx: &gx, gGamma: &gg, gBeta: &gb)
                Kernels.batchNormBackwardReference(x: x, gy: gy, n: n, c: c, s: s, mean: meanR, rstd: rstd, gamma: gamma,
                                                   batchStatistics: batch, gx: &gxR, gGamma: &ggR, gBeta: &gbR)
                assertClose(gx, gxR, rtol: 1e-3, atol: 1e-4, "gx batch=\(batch) \((n, c, s))")
                assertClose(gg, ggR, rtol: 1e-4, atol: 1e-4, "gamma batch=\(batch) \((n, c, s))")
                assertClose(gb, gbR, rtol: 1e-4, atol: 1e-4, "beta batch=\(batch) \((n, c, s))")
            }
        }
    }

    func testBatchNormThreadsGiveIdenticalResults() {
        // 8 x 16 x 1024 values: above the size where channels split across threads.
        let (n, c, s) = (8, 16, 1024)
        let x = randn(n * c * s, std: 2, mean: 1), gy = randn(n * c * s)
        let gamma = randn(c, std: 0.5, mean: 1), beta = randn(c)
        func run(threads: Int) -> [[Float]] {
            let saved = Kernels.blasThreads
            Kernels.setBLASThreads(threads)
            defer { Kernels.setBLASThreads(saved) }
            var mean = [Float](repeating: 0, count: c), variance = mean, gg = mean, gb = mean
            var y = [Float](repeating: 0, count: x.count), gx = y
            Kernels.batchNormStatistics(x, n: n, c: c, s: s, mean: &mean, variance: &variance)
            let rstd = variance.map { 1 / ($0 + 1e-5).squareRoot() }
            Kernels.batchNormNormalize(x, &y, n: n, c: c, s: s, mean: mean, rstd: rstd, gamma: gamma, beta: beta)
            Kernels.batchNormBackward(x: x, gy: gy, n: n, c: c, s: s, mean: mean, rstd: rstd, gamma: gamma,
                                      batchStatistics: true, gx: &gx, gGamma: &gg, gBeta: &gb)
            return [mean, variance, y, gx, gg, gb]
        }
        // Each channel is computed by one thread in the same order: bitwise equal.
        XCTAssertEqual(run(threads: 1), run(threads: 2))
    }

    func testSoftmaxCrossEntropyMatchesReference() {
        for (n, k) in [(5, 10), (3, 3), (4, 17)] {
            var logits = randn(n * k, std: 3)
            logits[0] = 90 // would overflow a naive exp
            let labels = (0..<n).map { ($0 * 7) % k }
            var probs = [Float](repeating: 0, count: n * k)
            let loss = Kernels.softmaxCrossEntropyForward(logits: logits, labels: labels, n: n, k: k, probs: &probs)
            let lossNoProbs = Kernels.softmaxCrossEntropyForward(logits: logits, labels: labels, n: n, k: k, probs: nil)
            var g = [Float](repeating: 0, count: n * k), gR = g
            Kernels.softmaxCrossEntropyBackward(probs: probs, labels: labels, n: n, k: k, scale: 0.5, gx: &g)
            let lossR = Kernels.softmaxCrossEntropyReference(logits: logits, labels: labels, n: n, k: k, scale: 0.5, gx: &gR)
            XCTAssertEqual(loss, lossR, accuracy: 1e-5 * max(1, lossR))
            XCTAssertEqual(loss, lossNoProbs)
            assertClose(g, gR, rtol: 1e-5, atol: 1e-6, "gradient \((n, k))")
        }
    }

    func testTripletMatchesReference() {
        let (rows, d) = (6, 13)
        let a = randn(rows * d), p = randn(rows * d, std: 0.5), ng = randn(rows * d)
        var margins = [Float](repeating: 0, count: rows)
        let loss = Kernels.tripletForward(anchor: a, positive: p, negative: ng, rows: rows, d: d, alpha: 10, margins: &margins)
        var ga = [Float](repeating: 0, count: rows * d), gp = ga, gn = ga, gaR = ga, gpR = ga, gnR = ga
        Kernels.tripletBackward(anchor: a, positive: p, negative: ng, rows: rows, d: d, margins: margins, scale: 0.25,
                                ga: &ga, gp: &gp, gn: &gn)
        let lossR = Kernels.tripletReference(anchor: a, positive: p, negative: ng, rows: rows, d: d, alpha: 10, scale: 0.25,
                                             ga: &gaR, gp: &gpR, gn: &gnR)
        XCTAssertEqual(loss, lossR, accuracy: 1e-4)
        XCTAssertTrue(margins.contains { $0 == 0 } && margins.contains { $0 > 0 }, "both active and inactive rows: \(margins)")
        assertClose(ga, gaR, rtol: 1e-5, atol: 1e-6, "anchor")
        assertClose(gp, gpR, rtol: 1e-5, atol: 1e-6, "positive")
        assertClose(gn, gnR, rtol: 1e-5, atol: 1e-6, "negative")
    }

    func testBinaryCrossEntropyClampsLikePyTorch() {
        // p = 0 with t = 1: log(0) clamped to -100, so the loss is 100 / 2 elements.
        let loss = Kernels.binaryCrossEntropyForward(probs: [0, 0.5], targets: [1, 1], n: 2)
        XCTAssertEqual(loss, (100 + Foundation.log(2.0)) / 2, accuracy: 1e-9)
        // Stable form at z = +-100: no overflow; loss(z = -100, t = 1) = 100.
        let l2 = Kernels.binaryCrossEntropyWithLogitsForward(logits: [-100, 100], targets: [1, 1], n: 2)
        XCTAssertEqual(l2, 50, accuracy: 1e-9)
    }
}
