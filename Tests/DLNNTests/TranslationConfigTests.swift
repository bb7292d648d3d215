import Foundation
import XCTest

@testable import DLNN

/// config.json of a translation model: a variable-length source ([-1]),
/// with or without input.text, and a model that reads "src" and "tgt".
final class TranslationConfigTests: XCTestCase {
    func config(shape: [Int] = [-1], text: ModelConfig.TextInput? = .init(vocabulary: "bpe.vocab.txt", lowercase: false)) -> ModelConfig {
        ModelConfig(name: "mt", task: .translation, labels: [], input: .init(shape: shape, text: text))
    }

    func spec(inputs: [String]) -> ModelSpec {
        ModelSpec(inputs: inputs.map { InputSpec(name: $0, shape: [-1], dtype: "int64") },
                  layers: [LayerSpec(name: "e", type: "embedding", inputs: [inputs.last!], attrs: ["vocab_size": 5, "dim": 2])],
                  outputs: ["e"])
    }

    func testTheSourceShapeIsVariable() throws {
        XCTAssertNoThrow(try config().validate())
        XCTAssertNoThrow(try config(text: nil).validate())
        XCTAssertThrowsError(try config(shape: [10], text: nil).validate()) {
            XCTAssertTrue("\($0)".contains("field 'input.shape' of a translation model must be [-1]"), "\($0)")
        }
        XCTAssertThrowsError(try config(shape: [-1, 4]).validate()) { XCTAssertTrue("\($0)".contains("input.shape"), "\($0)") }
    }

    func testTheModelReadsSourceAndTarget() throws {
        XCTAssertNil(config().mismatch(with: try GraphModel(spec: spec(inputs: ["src", "tgt"]))))
        let m = config().mismatch(with: try GraphModel(spec: spec(inputs: ["src"])))
        XCTAssertEqual(m, #"a translation model's inputs must be "src" and "tgt" (model.json has ["src"])"#)
    }
}
