import DLKernels
import DLTensor
import DLTesting
import XCTest

/// The sequence ops (masks, where, masked fill, max over an axis, batched
/// matmul with transpose flags, embedding lookup, masked softmax): hand-derived
/// values, finite-difference gradients and fast kernels against their plain
/// references. PyTorch values are in DLNNTests/SequenceOpsFixtureTests.
final class SequenceOpsTests: XCTestCase {
    func testCompareGivesZeroOneMasksWithBroadcasting() {
        let ids = Tensor(shape: [2, 3], data: [5, 0, 0, 7, 2, 0])
        XCTAssertEqual(ids.compare(.notEqual, 0).data, [1, 0, 0, 1, 1, 0])
        XCTAssertEqual(ids.compare(.greaterOrEqual, 5).data, [1, 0, 0, 1, 0, 0])
        let row = Tensor(shape: [3], data: [5, 1, 0])
        let m = ids.compare(.less, row)
        XCTAssertEqual(m.shape, [2, 3])
        XCTAssertEqual(m.data, [0, 1, 0, 0, 0, 0])
        XCTAssertFalse(m.requiresGrad)
    }

    func testWhereAndMaskedFillHandDerived() {
        // y = where(c, a, b): dy/da = c, dy/db = 1 - c (b broadcast over rows, so summed).
        let c = Tensor(shape: [2, 2], data: [1, 0, 0, 1])
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4], requiresGrad: true)
        let b = Tensor(shape: [2], data: [10, 20], requiresGrad: true)
        let y = Tensor.where(c, a, b)
        XCTAssertEqual(y.data, [1, 20, 10, 4])
        y.sum().backward()
        XCTAssertEqual(a.grad!, [1, 0, 0, 1])
        XCTAssertEqual(b.grad!, [1, 1])
        // masked_fill: filled entries take the value and pass no gradient.
        let x = Tensor(shape: [2, 2], data: [1, 2, 3, 4], requiresGrad: true)
        let f = x.maskedFill(Tensor(shape: [2], data: [0, 1]), -.infinity)
        XCTAssertEqual(f.data, [1, -.infinity, 3, -.infinity])
        (x.maskedFill(Tensor(shape: [2], data: [0, 1]), 9) * x).sum().backward()
        // d/dx [x * fill(x)] = 2x where kept, 9 where filled.
        XCTAssertEqual(x.grad!, [2, 9, 6, 9])
    }

    func testCausalMask() {
        XCTAssertEqual(Tensor.causalMask(queries: 3, keys: 3).data, [1, 0, 0, 1, 1, 0, 1, 1, 1])
        // Two new queries over four keys (a cache of two): aligned bottom-right.
        XCTAssertEqual(Tensor.causalMask(queries: 2, keys: 4).data, [1, 1, 1, 0, 1, 1, 1, 1])
    }

    func testMaskingGradients() {
        var rng = SeededGenerator(seed: 11)
        let a = Tensor.normal([2, 3, 4], std: 1, rng: &rng), b = Tensor.normal([3, 1], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
        let c = a.compare(.greater, Tensor.normal([2, 3, 4], std: 1, rng: &rng))
        // where and masked_fill are piecewise linear; the mask is fixed, so no kinks.
        assertGradient(a, "where a") { (Tensor.where(c, a.squared(), b) * w).sum() }
        assertGradient(b, "where b") { (Tensor.where(c, a, b.squared()) * w).sum() }
        let m = Tensor(shape: [1, 3, 1], data: [1, 0, 1])
        assertGradient(a, "masked_fill") { (a.squared().maskedFill(m, -3) * w).sum() }
    }

    func testMaxAlongAxisKeepDimsAndTies() {
        let x = Tensor(shape: [2, 3], data: [1, 5, 5, 7, 2, 7], requiresGrad: true)
        let m = x.max(axis: 1)
        XCTAssertEqual(m.shape, [2])
        XCTAssertEqual(m.data, [5, 7])
        XCTAssertEqual(x.max(axis: 1, keepDims: true).shape, [2, 1])
        XCTAssertEqual(x.argmax(axis: -1).data, [1, 0])
        XCTAssertEqual(x.argmax(axis: 0, keepDims: true).data, [1, 0, 1])
        // The gradient goes to the first maximum only.
        (m * Tensor(shape: [2], data: [2, 3])).sum().backward()
        XCTAssertEqual(x.grad!, [0, 2, 0, 3, 0, 0])
    }

    func testMaxGradient() {
        // Continuous random values have no ties, so the max is locally linear
        // (a kink only where two values are within epsilon of each other).
        var rng = SeededGenerator(seed: 12)
        let x = Tensor.normal([3, 4, 5], std: 1, rng: &rng)
        let w = Tensor.normal([3, 5], std: 1, rng: &rng), w2 = Tensor.normal([3, 4, 1], std: 1, rng: &rng)
        assertGradient(x, epsilon: 1e-3, "max axis 1") { (x.max(axis: 1) * w).sum() }
        assertGradient(x, epsilon: 1e-3, "max last keepDims") { (x.max(axis: -1, keepDims: true) * w2).sum() }
    }

    func testBatchedMatmulShapesAndValues() {
        // [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[19, 22], [43, 50]];
        // with B stored transposed, [[1, 2], [3, 4]] x [[5, 7], [6, 8]] = [[17, 23], [39, 53]].
        let a = Tensor(shape: [1, 2, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [1, 2, 2], data: [5, 6, 7, 8])
        XCTAssertEqual(a.matmul(b, transposeA: false, transposeB: false).data, [19, 22, 43, 50])
        XCTAssertEqual(a.matmul(b, transposeA: false, transposeB: true).data, [17, 23, 39, 53])
        let q = Tensor(zeros: [2, 3, 4, 5]), k = Tensor(zeros: [2, 3, 6, 5])
        XCTAssertEqual(q.matmul(k, transposeA: false, transposeB: true).shape, [2, 3, 4, 6])
        XCTAssertEqual(k.matmul(Tensor(zeros: [2, 3, 4, 6]), transposeA: true, transposeB: true).shape, [2, 3, 5, 4])
    }

    func testBatchedMatmulGradientsForEveryFlag() {
        var rng = SeededGenerator(seed: 13)
        let (m, k, n) = (3, 4, 2)
        for batch in [[2, 3], [4]] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = Tensor.normal(batch + (ta ? [k, m] : [m, k]), std: 1, rng: &rng)
                let b = Tensor.normal(batch + (tb ? [n, k] : [k, n]), std: 1, rng: &rng)
                let w = Tensor.normal(batch + [m, n], std: 1, rng: &rng)
                let f = { (a.matmul(b, transposeA: ta, transposeB: tb) * w).sum() }
                assertGradient(a, "a, batch \(batch), flags \(ta) \(tb)", f)
                assertGradient(b, "b, batch \(batch), flags \(ta) \(tb)", f)
                // The transpose flags agree with an explicit transpose.
                let aa = ta ? a.transposed() : a, bb = tb ? b.transposed() : b
                assertClose(a.matmul(b, transposeA: ta, transposeB: tb), aa.matmul(bb, transposeA: false, transposeB: false))
            }
        }
    }

    func testBatchedGemmMatchesReference() {
        var rng = SeededGenerator(seed: 14)
        // Large enough that the pool splits the batch when it has threads.
        Kernels.setBLASThreads(2)
        defer { Kernels.setBLASThreads(1) }
        let (batch, m, n, k) = (12, 33, 40, 24)
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = Tensor.normal([batch * m * k], std: 1, rng: &rng).data
            let b = Tensor.normal([batch * k * n], std: 1, rng: &rng).data
            var c1 = [Float](repeating: 0, count: batch * m * n), c2 = c1
            Kernels.batchedGemm(batch: batch, transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, strideA: m * k,
                                b: b, ldb: tb ? k : n, strideB: k * n, c: &c1, ldc: n, strideC: m * n)
            Kernels.batchedGemmReference(batch: batch, transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k,
                                         strideA: m * k, b: b, ldb: tb ? k : n, strideB: k * n, c: &c2, ldc: n, strideC: m * n)
            assertClose(c1, c2, rtol: 1e-4, atol: 1e-4, "flags \(ta) \(tb)")
        }
    }

    func testEmbeddingOp() {
        // W = [[0, 1], [2, 3], [4, 5]]; ids [[2, 0], [2, 1]] with padding 1.
        let w = Tensor(shape: [3, 2], data: [0, 1, 2, 3, 4, 5], requiresGrad: true)
        let ids = Tensor(shape: [2, 2], data: [2, 0, 2, 1])
        let y = Tensor.embedding(ids, weight: w, paddingIndex: 1)
        XCTAssertEqual(y.shape, [2, 2, 2])
        XCTAssertEqual(y.data, [4, 5, 0, 1, 4, 5, 2, 3])
        (y * Tensor(shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8])).sum().backward()
        // Row 2 read twice accumulates [1+5, 2+6]; row 1 is padding: no gradient.
        XCTAssertEqual(w.grad!, [3, 4, 0, 0, 6, 8])
        var rng = SeededGenerator(seed: 15)
        let table = Tensor.normal([5, 3], std: 1, rng: &rng), g = Tensor.normal([2, 4, 3], std: 1, rng: &rng)
        let many = Tensor(shape: [2, 4], data: [0, 3, 3, 4, 1, 0, 2, 3])
        assertGradient(table, "embedding") { (Tensor.embedding(many, weight: table).squared() * g).sum() }
    }

    func testMaskedSoftmaxHandDerived() {
        // Row 1: keep [1, 1, 0] over [0, ln 3, 9] -> [1/4, 3/4, 0].
        // Row 2: all masked -> zeros, not NaN. Row 3: a -inf score is masked too.
        let x = Tensor(shape: [3, 3], data: [0, Float(log(3.0)), 9, 1, 2, 3, -.infinity, 0, 0], requiresGrad: true)
        let keep = Tensor(shape: [3, 3], data: [1, 1, 0, 0, 0, 0, 1, 1, 1])
        let y = x.maskedSoftmax(keep)
        assertClose(y.data, [0.25, 0.75, 0, 0, 0, 0, 0, 0.5, 0.5], rtol: 1e-6, atol: 1e-6)
        (y * Tensor(shape: [3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9])).sum().backward()
        // gx = y (g - sum(g y)): row 1 sum = 1.75, gx = [-0.1875, 0.1875, 0]; rows 2, 3 masked parts 0.
        assertClose(x.grad!, [-0.1875, 0.1875, 0, 0, 0, 0, 0, -0.25, 0.25], rtol: 1e-5, atol: 1e-6)
    }

    func testMaskedSoftmaxGradientAndBroadcastMask() {
        var rng = SeededGenerator(seed: 16)
        let x = Tensor.normal([2, 2, 3, 4], std: 1, rng: &rng), w = Tensor.normal([2, 2, 3, 4], std: 1, rng: &rng)
        let pad = Tensor(shape: [2, 1, 1, 4], data: [1, 1, 1, 1, 1, 1, 0, 0])
        assertGradient(x, "masked softmax, key padding") { (x.maskedSoftmax(pad) * w).sum() }
        let causal = Tensor.causalMask(queries: 3, keys: 4)
        assertGradient(x, "masked softmax, causal") { (x.maskedSoftmax(causal) * w).sum() }
        // Without a mask it is the plain softmax.
        assertClose(x.maskedSoftmax(nil), x.softmax(axis: -1), rtol: 1e-6, atol: 1e-6)
    }

    func testMaskedSoftmaxKernelMatchesReference() {
        var rng = SeededGenerator(seed: 17)
        let (rows, n) = (9, 21)
        var x = Tensor.normal([rows * n], std: 3, rng: &rng).data
        var keep = (0..<(rows * n)).map { _ in Float(rng.uniform() < 0.7 ? 1 : 0) }
        for j in 0..<n { keep[2 * n + j] = 0 }  // a fully masked row
        x[5 * n + 3] = -.infinity
        var y1 = [Float](repeating: 0, count: rows * n), y2 = y1
        Kernels.maskedSoftmaxForward(x, keep: keep, &y1, rows: rows, n: n)
        Kernels.maskedSoftmaxReference(x, keep: keep, &y2, rows: rows, n: n)
        assertClose(y1, y2, rtol: 1e-5, atol: 1e-6)
        XCTAssertTrue(y1.allSatisfy { $0.isFinite })
    }
}
