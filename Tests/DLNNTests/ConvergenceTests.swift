import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// A small MLP built from a model.json-style spec learns nonlinear problems
/// with plain full-batch gradient descent written inline (the optimizer
/// library lives in DLTrain).
final class ConvergenceTests: XCTestCase {
    /// Two interleaved spirals: per class k, n points with radius r = i / n
    /// and angle 2 pi r + k pi + noise, so each arm makes a full turn and
    /// the arms interleave; no linear separator exists.
    func spirals(perClass n: Int, seed: UInt64) -> (Tensor, [Int]) {
        var rng = SeededGenerator(seed: seed)
        var x: [Float] = [], y: [Int] = []
        for k in 0..<2 {
            for i in 0..<n {
                let r = Float(i) / Float(n)
                let t = 2 * Float.pi * r + Float(k) * Float.pi + 0.15 * rng.normal()
                x += [r * Foundation.sin(t), r * Foundation.cos(t)]
                y.append(k)
            }
        }
        return (Tensor(shape: [2 * n, 2], data: x), y)
    }

    func mlp(hidden: Int, seed: UInt64) throws -> GraphModel {
        let spec = ModelSpec(inputShape: [2], layers: hidden == 0 ? [
            LayerSpec(name: "fc", type: "dense", inputs: ["input"], attrs: ["units": 2, "init": "xavier"]),
        ] : [
            LayerSpec(name: "fc1", type: "dense", inputs: ["input"], attrs: ["units": .number(Double(hidden)), "init": "he"]),
            LayerSpec(name: "act1", type: "tanh", inputs: ["fc1"]),
            LayerSpec(name: "fc2", type: "dense", inputs: ["act1"], attrs: ["units": 2, "init": "xavier"]),
        ])
        return try GraphModel(spec: spec, seed: seed)
    }

    /// Full-batch gradient descent; returns the loss of each step.
    func train(_ model: GraphModel, _ x: Tensor, _ y: [Int], steps: Int, lr: Float) -> [Float] {
        let ctx = ForwardContext(training: true)
        var losses: [Float] = []
        for _ in 0..<steps {
            let loss = softmaxCrossEntropy(logits: model(x, ctx), labels: y)
            losses.append(loss.scalar)
            loss.backward()
            for (_, p) in model.namedParameters {
                let g = p.grad!
                for i in 0..<p.count { p.data[i] -= lr * g[i] }
                p.zeroGrad()
            }
        }
        return losses
    }

    func accuracy(_ model: GraphModel, _ x: Tensor, _ y: [Int]) -> Double {
        let pred = model.infer(x).argmaxLastAxis()
        return Double(zip(pred, y).filter { $0 == $1 }.count) / Double(y.count)
    }

    func testXOR() throws {
        // XOR: the classic problem a linear model cannot fit (accuracy <= 3/4).
        let x = Tensor(shape: [4, 2], data: [0, 0, 0, 1, 1, 0, 1, 1])
        let y = [0, 1, 1, 0]
        let model = try mlp(hidden: 8, seed: 3)
        let losses = train(model, x, y, steps: 500, lr: 0.5)
        XCTAssertEqual(accuracy(model, x, y), 1)
        XCTAssertLessThan(losses.last!, 0.02, "final XOR loss")
        XCTAssertGreaterThan(losses.first!, 0.5, "starts near ln 2")
    }

    func testTwoSpirals() throws {
        let (x, y) = spirals(perClass: 60, seed: 5)
        let model = try mlp(hidden: 32, seed: 6)
        XCTAssertEqual(model.parameterCount, 2 * 32 + 32 + 32 * 2 + 2)
        let before = accuracy(model, x, y)
        let losses = train(model, x, y, steps: 2000, lr: 1.0)
        let after = accuracy(model, x, y)
        print("spirals: accuracy \(before) -> \(after), loss \(losses.first!) -> \(losses.last!)")
        XCTAssertGreaterThanOrEqual(after, 0.95, "train accuracy on the spirals")
        XCTAssertLessThan(losses.last!, 0.1, "final spiral loss")
        // Held-out points from the same spirals (another noise draw).
        let (xt, yt) = spirals(perClass: 60, seed: 7)
        XCTAssertGreaterThanOrEqual(accuracy(model, xt, yt), 0.9, "held-out accuracy")
        // A linear model trained the same way cannot separate them.
        let linear = try mlp(hidden: 0, seed: 6)
        _ = train(linear, x, y, steps: 300, lr: 1.0)
        print("spirals: linear model accuracy \(accuracy(linear, x, y))")
        XCTAssertLessThan(accuracy(linear, x, y), 0.75, "a linear model fails")
    }
}
