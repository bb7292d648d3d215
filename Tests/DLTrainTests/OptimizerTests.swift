import DLTensor
import DLTesting
import DLTrain
import Foundation
import XCTest

final class OptimizerTests: XCTestCase {
    var fx: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "optim", withExtension: "json", subdirectory: "Fixtures"))
        fx = try loadFixtures(url)
    }

    /// Runs 10 steps with the fixture's gradients; returns (w, b).
    func run(_ opt: Optimizer, steps: Range<Int> = 0..<10, from start: (Tensor, Tensor)? = nil) -> (Tensor, Tensor) {
        let w = start?.0 ?? Tensor(shape: [4, 3], data: fx["w0"]!.data, requiresGrad: true)
        let b = start?.1 ?? Tensor(shape: [3], data: fx["b0"]!.data, requiresGrad: true)
        for t in steps {
            w.grad = Array(fx["gw"]!.data[(t * 12)..<(t * 12 + 12)])
            b.grad = Array(fx["gb"]!.data[(t * 3)..<(t * 3 + 3)])
            opt.step([("fc.weight", w), ("fc.bias", b)])
            XCTAssertNil(w.grad, "step clears gradients")
        }
        return (w, b)
    }

    func check(_ name: String, _ opt: Optimizer, file: StaticString = #filePath, line: UInt = #line) {
        let (w, b) = run(opt)
        assertClose(w, fx["\(name).w"]!, rtol: 1e-4, atol: 1e-4, name, file: file, line: line)
        assertClose(b, fx["\(name).b"]!, rtol: 1e-4, atol: 1e-4, name, file: file, line: line)
    }

    func testTenStepsMatchNumPyReference() {
        check("sgd", Optimizer(rule: SGD(), learningRate: 0.1))
        check("momentum", Optimizer(rule: Momentum(momentum: 0.9), learningRate: 0.05))
        check("nesterov", Optimizer(rule: Momentum(momentum: 0.9, nesterov: true), learningRate: 0.05))
        check("rmsprop", Optimizer(rule: RMSprop(alpha: 0.99, eps: 1e-8), learningRate: 0.01))
        check("adam", Optimizer(rule: Adam(), learningRate: 0.01))
        check("adam_l2", Optimizer(rule: Adam(), learningRate: 0.01, l2: 0.1))
        check("sgd_clip", Optimizer(rule: SGD(), learningRate: 0.1, clipNorm: 1))
    }

    func testFirstAdamStepIsLearningRateTimesSign() {
        // With bias correction, step 1 is m/(sqrt(v)) = g/|g| (eps aside): p moves by exactly lr.
        let p = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        p.grad = [0.5, -20, 1e-3]
        Optimizer(rule: Adam(), learningRate: 0.1).step([("p", p)])
        assertClose(p.data, [0.9, 2.1, 2.9], rtol: 0, atol: 1e-5)
    }

    func testL2AppliesToWeightsOnly() {
        // SGD, lr 1, zero gradient: W <- W - l2 * W; the rank-1 bias is untouched.
        let w = Tensor(shape: [2, 2], data: [1, -2, 3, 4], requiresGrad: true)
        let b = Tensor(shape: [2], data: [5, 6], requiresGrad: true)
        w.grad = [0, 0, 0, 0]; b.grad = [0, 0]
        Optimizer(rule: SGD(), learningRate: 1, l2: 0.25).step([("w", w), ("b", b)])
        XCTAssertEqual(w.data, [0.75, -1.5, 2.25, 3])
        XCTAssertEqual(b.data, [5, 6])
    }

    func testClippingByGlobalNorm() {
        // Gradients (3, 4) and (12): global norm 13. Clipped to 1: scaled by 1/13.
        let a = Tensor(shape: [2], data: [0, 0], requiresGrad: true)
        let c = Tensor(shape: [1], data: [0], requiresGrad: true)
        a.grad = [3, 4]; c.grad = [12]
        XCTAssertEqual(Optimizer.gradientNorm([("a", a), ("c", c)]), 13, accuracy: 1e-5)
        let norm = Optimizer(rule: SGD(), learningRate: 1, clipNorm: 1).step([("a", a), ("c", c)])
        XCTAssertEqual(norm, 13, accuracy: 1e-5)
        assertClose(a.data + c.data, [-3 / 13, -4 / 13, -12 / 13], rtol: 0, atol: 1e-6)
        // Below the threshold nothing changes.
        a.grad = [0.3, 0.4]
        Optimizer(rule: SGD(), learningRate: 1, clipNorm: 1).step([("a", a)])
        assertClose(a.data, [-3 / 13 - 0.3, -4 / 13 - 0.4], rtol: 0, atol: 1e-6)
    }

    func testParametersWithoutGradientAreSkipped() {
        let p = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let opt = Optimizer(rule: Adam(), learningRate: 0.1)
        opt.step([("p", p)])
        XCTAssertEqual(p.data, [1, 2])
        XCTAssertNil(opt.state.parameters["p"])
    }

    func testStateRoundTripResumesExactly() throws {
        for rule in [Adam(), Momentum(), RMSprop()] as [UpdateRule] {
            let straight = run(Optimizer(rule: rule, learningRate: 0.01, l2: 0.05))
            let first = Optimizer(rule: rule, learningRate: 0.01, l2: 0.05)
            let half = run(first, steps: 0..<5)
            let json = try JSONEncoder().encode(first.state)
            let second = Optimizer(rule: rule, learningRate: 0.01, l2: 0.05)
            try second.load(JSONDecoder().decode(OptimizerState.self, from: json))
            let resumed = run(second, steps: 5..<10, from: half)
            XCTAssertEqual(resumed.0.data, straight.0.data, rule.name)
            XCTAssertEqual(resumed.1.data, straight.1.data, rule.name)
            XCTAssertEqual(second.state.parameters["fc.weight"]?.step, 10)
        }
        XCTAssertThrowsError(try Optimizer(rule: SGD(), learningRate: 1).load(OptimizerState(rule: "adam", parameters: [:])))
    }

    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.constant.learningRate(0.1, epoch: 7), 0.1)
        // Course: lr0 / (1 + decay * epoch): 0.2 / (1 + 1 * 3) = 0.05.
        XCTAssertEqual(LearningRateSchedule.inverseTime(decayRate: 1).learningRate(0.2, epoch: 3), 0.05, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.inverseTime(decayRate: 1).learningRate(0.2, epoch: 0), 0.2)
        // 0.1 * 0.5^3 = 0.0125.
        XCTAssertEqual(LearningRateSchedule.exponential(rate: 0.5).learningRate(0.1, epoch: 3), 0.0125, accuracy: 1e-8)
        // StepLR(step 2, gamma 0.1): epochs 0,1 -> 1; 2,3 -> 0.1; 4 -> 0.01.
        let s = LearningRateSchedule.step(stepSize: 2, gamma: 0.1)
        assertClose((0..<5).map { s.learningRate(1, epoch: $0) }, [1, 1, 0.1, 0.1, 0.01], rtol: 1e-6, atol: 0)
        let c = LearningRateSchedule.cosine(epochs: 4)
        assertClose((0...4).map { c.learningRate(1, epoch: $0) }, [1, 0.8535534, 0.5, 0.1464466, 0], rtol: 0, atol: 1e-6)
    }

    /// Convergence: a 2-16-1 ReLU network learns XOR-like quadrants (a nonlinear
    /// problem) with each optimizer, from the same seed.
    func testConvergenceOnNonlinearProblem() {
        var rng = SeededGenerator(seed: 7)
        let n = 64
        let x = Tensor.uniform([n, 2], low: -1, high: 1, rng: &rng)
        let y = Tensor(shape: [n, 1], data: (0..<n).map { x.data[2 * $0] * x.data[2 * $0 + 1] > 0 ? 1 : -1 })
        // Plain SGD is the slowest of the four: it gets a looser bound.
        let cases: [(UpdateRule, Float, Float)] = [(Adam(), 0.02, 0.1), (Momentum(), 0.05, 0.1), (RMSprop(), 0.005, 0.1), (SGD(), 0.2, 0.3)]
        for (rule, lr, bound) in cases {
            var r = SeededGenerator(seed: 11)
            let w1 = Tensor.normal([2, 16], std: 1, rng: &r), b1 = Tensor(zeros: [16])
            let w2 = Tensor.normal([16, 1], std: 0.25, rng: &r), b2 = Tensor(zeros: [1])
            let params = [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)]
            for (_, p) in params { p.requiresGrad = true }
            let opt = Optimizer(rule: rule, learningRate: lr)
            func loss() -> Tensor { ((x.matmul(w1) + b1).clampedMin(0).matmul(w2) + b2 - y).squared().mean() }
            let initial = GradMode.withoutGrad { loss().scalar }
            for _ in 0..<600 {
                loss().backward()
                opt.step(params)
            }
            let final = GradMode.withoutGrad { loss().scalar }
            XCTAssertLessThan(final, bound, "\(rule.name): \(initial) -> \(final)")
            XCTAssertLessThan(final, initial / 5, rule.name)
        }
    }
}
