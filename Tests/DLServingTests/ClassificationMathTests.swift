@testable import DLServing
import DLTesting
import XCTest

final class ClassificationMathTests: XCTestCase {
    func testSoftmaxIsStableAndNormalized() {
        // softmax([0, ln 3]) = [1/4, 3/4]; shifting every logit by 100 changes nothing
        // (exp(101) overflows Float, so only the max-shifted form gets this right;
        // 1e-5 allows for the float spacing at 100, 7.6e-6).
        assertClose(Probabilities.softmax([0, log(3)]), [0.25, 0.75], rtol: 0, atol: 1e-6)
        assertClose(Probabilities.softmax([100, 100 + log(3)]), [0.25, 0.75], rtol: 0, atol: 1e-5)
        XCTAssertEqual(Probabilities.softmax([-1e30, 0]).map { $0.isFinite }, [true, true])
    }

    func testTopKOrdersByProbabilityThenIndex() {
        let top = Probabilities.topK([0.1, 0.4, 0.1, 0.4], k: 3)
        XCTAssertEqual(top.map(\.0), [1, 3, 0])
        XCTAssertEqual(Probabilities.topK([0.5, 0.5], k: 10).count, 2)
    }
}
