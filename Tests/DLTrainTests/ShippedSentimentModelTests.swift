import DLNN
import DLTensor
import DLText
import DLTrain
import Foundation
import XCTest

/// The shipped sentiment model (models/sentiment-rt, trained by
/// recipes/sentiment-rt.json) on the held-out test split of the Rotten
/// Tomatoes sentences (data/sentiment-rt/test.tsv, made by `make
/// data-sentiment`; no training step saw it), encoded with the vocabulary that
/// ships in the version. The bar is 80%.
final class ShippedSentimentModelTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testSentimentReachesTheBarOnTheTestSplit() throws {
        let data = Self.root.appendingPathComponent("data/sentiment-rt")
        guard FileManager.default.fileExists(atPath: data.appendingPathComponent("test.tsv").path) else {
            throw XCTSkip("data/sentiment-rt is missing: make data-sentiment (make test runs it)")
        }
        let repository = ModelRepository(root: Self.root.appendingPathComponent("models"))
        let (loaded, skipped) = try repository.loadLatestValid("sentiment-rt")
        XCTAssertEqual(skipped, [])
        let text = try XCTUnwrap(loaded.config.input.text)
        let vocabulary = try Vocabulary.load(loaded.directory.appendingPathComponent(text.vocabulary))
        let test = try TextDataset.load(data, split: "test", tokenizer: Tokenizer(lowercase: text.lowercase), vocabulary: vocabulary)
        XCTAssertEqual(test.count, 1114)
        let e = Evaluator.evaluate(loaded.model, on: test, normalization: nil)
        XCTAssertGreaterThanOrEqual(e.accuracy, 0.80, "test accuracy \(e.accuracy)")
        guard case .object(let m)? = loaded.metrics, case .number(let recorded)? = m["test_accuracy"] else {
            return XCTFail("metrics.json has no test_accuracy")
        }
        XCTAssertEqual(Float(recorded), e.accuracy, accuracy: 1e-6)
        XCTAssertEqual(loaded.config.labels, ["negative", "positive"])
    }
}
