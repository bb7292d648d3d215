import DLNN
import DLTensor
import DLTrain
import Foundation
import XCTest

/// The shipped model (models/fashion-mnist, trained by recipes/fashion-mnist.json)
/// on the official 10,000-image Fashion-MNIST test set, preprocessed from its
/// config.json as the server does. The bar is 92.5%.
final class ShippedModelTests: XCTestCase {
    static let repository = ModelRepository(root: URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models"))

    func testFashionMNISTReachesTheTargetAccuracy() throws {
        let (loaded, skipped) = try Self.repository.loadLatestValid("fashion-mnist")
        XCTAssertEqual(skipped, [])
        let test = try FashionMNIST.load(.test)
        let e = try Evaluator.evaluate(loaded, on: test)
        XCTAssertEqual(e.count, 10_000)
        XCTAssertGreaterThanOrEqual(e.accuracy, 0.925, "test accuracy \(e.accuracy)")
        // metrics.json records what this evaluation measures.
        guard case .object(let m)? = loaded.metrics, case .number(let recorded)? = m["test_accuracy"] else {
            return XCTFail("metrics.json has no test_accuracy")
        }
        XCTAssertEqual(Float(recorded), e.accuracy, accuracy: 1e-6)
        XCTAssertEqual(loaded.config.labels, FashionMNIST.classes)
    }

    /// The daemon serves the compiled plan (batch norm folded, activations
    /// fused, Winograd): on the whole test set it must give the graph's
    /// answers and the same bar.
    func testTheServedPlanAgreesWithTheGraphOnTheTestSet() throws {
        let loaded = try Self.repository.loadLatestValid("fashion-mnist").model
        let test = try FashionMNIST.load(.test)
        let images = loaded.config.input.preprocessing.apply(toUnitImages: test.images)
        let plan = InferencePlan(loaded.model)
        var agree = 0, correct = 0, worst: Float = 0
        var planSeconds = 0.0, graphSeconds = 0.0
        var start = 0
        while start < test.count {
            let n = min(500, test.count - start)
            let row = images.shape.dropFirst().reduce(1, *)
            let x = Tensor(shape: [n] + Array(images.shape.dropFirst()),
                           data: Array(images.data[(start * row)..<((start + n) * row)]))
            let t0 = Date()
            let a = plan.run(x)
            let t1 = Date()
            let b = loaded.model.infer(x)
            planSeconds += t1.timeIntervalSince(t0)
            graphSeconds += Date().timeIntervalSince(t1)
            worst = max(worst, zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0)
            for (i, (p, q)) in zip(a.argmaxLastAxis(), b.argmaxLastAxis()).enumerated() {
                if p == q { agree += 1 }
                if p == test.labels[start + i] { correct += 1 }
            }
            start += n
        }
        XCTAssertLessThan(worst, 1e-3, "largest logit difference")
        XCTAssertGreaterThanOrEqual(agree, 9_995, "the plan and the graph disagree on \(10_000 - agree) images")
        XCTAssertGreaterThanOrEqual(Float(correct) / 10_000, 0.925)
        print("served plan: \(correct) / 10000 right, \(10_000 - agree) answers differ from the graph, largest logit difference \(worst); \(planSeconds) s plan, \(graphSeconds) s graph")
    }

    func testShippedRecipeIsTheRepositorysRecipe() throws {
        let root = Self.repository.root.deletingLastPathComponent()
        let recipe = try Recipe.load(root.appendingPathComponent("recipes/fashion-mnist.json"))
        try recipe.validate()
        let loaded = try Self.repository.loadLatestValid("fashion-mnist").model
        let published = try Recipe.parse(Data(contentsOf: loaded.directory.appendingPathComponent("recipe.json")))
        XCTAssertEqual(published, recipe)
    }
}
