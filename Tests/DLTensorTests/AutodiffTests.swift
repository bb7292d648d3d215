import DLKernels
import DLTensor
import DLTesting
import XCTest

final class AutodiffTests: XCTestCase {
    func testGemmMatchesReference() {
        var rng = SeededGenerator(seed: 1)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, n, k) = (7, 5, 9)
            let a = Tensor.normal([m * k], std: 1, rng: &rng).data
            let b = Tensor.normal([k * n], std: 1, rng: &rng).data
            var c1 = [Float](repeating: 0, count: m * n), c2 = c1
            Kernels.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n, c: &c1, ldc: n)
            Kernels.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n, c: &c2, ldc: n)
            assertClose(c1, c2, rtol: 1e-5, atol: 1e-5)
        }
    }

    func testHandDerivedProductRule() {
        // f = sum(a * b + a), df/da = b + 1, df/db = a.
        let a = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        let b = Tensor(shape: [3], data: [4, 5, 6], requiresGrad: true)
        (a * b + a).sum().backward()
        XCTAssertEqual(a.grad!, [5, 6, 7])
        XCTAssertEqual(b.grad!, [1, 2, 3])
    }

    func testBroadcastGradients() {
        var rng = SeededGenerator(seed: 2)
        let a = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
        let b = Tensor.normal([3, 1], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
        assertGradient(a, "add a") { ((a + b) * w).sum() }
        assertGradient(b, "add b") { ((a + b) * w).sum() }
        assertGradient(b, "div b") { ((a / (b.squared() + 1)) * w).sum() }
        assertGradient(a, "sub") { ((a - b) * (a - b)).sum() }
    }

    func testMatmulAndShapeGradients() {
        var rng = SeededGenerator(seed: 3)
        let a = Tensor.normal([2, 3, 4], std: 1, rng: &rng)
        let b = Tensor.normal([4, 5], std: 1, rng: &rng)
        let c = Tensor.normal([2, 4, 5], std: 1, rng: &rng)
        let w = Tensor.normal([2, 3, 5], std: 1, rng: &rng)
        assertGradient(a, "matmul a") { (a.matmul(b) * w).sum() }
        assertGradient(b, "matmul b shared") { (a.matmul(b) * w).sum() }
        assertGradient(c, "bmm b") { (a.matmul(c) * w).sum() }
        let w1 = Tensor.normal([4, 2], std: 1, rng: &rng)
        assertGradient(a, "permute") { (a.permuted([2, 0, 1]).reshaped([4, 6]).matmul(Tensor(repeating: 0.5, shape: [6, 2])) * w1).sum() }
        let w2 = Tensor.normal([2, 6, 4], std: 1, rng: &rng)
        assertGradient(a, "concat") { (Tensor.concat([a, a.squared()], axis: 1) * w2).sum() }
        assertGradient(a, "split") { (a.split(sizes: [1, 2], axis: 1)[1] * a.slice(axis: 1, start: 0, length: 2)).sum() }
        assertGradient(a, "sum axis") { (a.sum(axis: 1) * a.mean(axis: 1)).sum() }
        assertGradient(a, "unary") { (a.exp() + a.squared().sqrt() + (a.squared() + 1).log()).mean() }
    }

    func testNoGradRecordsNothing() {
        let a = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let y = GradMode.withoutGrad { a * a }
        XCTAssertNil(y.node)
        XCTAssertFalse(y.requiresGrad)
    }
}
