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

    func testShippedRecipeIsTheRepositorysRecipe() throws {
        let root = Self.repository.root.deletingLastPathComponent()
        let recipe = try Recipe.load(root.appendingPathComponent("recipes/fashion-mnist.json"))
        try recipe.validate()
        let loaded = try Self.repository.loadLatestValid("fashion-mnist").model
        let published = try Recipe.parse(Data(contentsOf: loaded.directory.appendingPathComponent("recipe.json")))
        XCTAssertEqual(published, recipe)
    }
}
