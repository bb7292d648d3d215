import DLNN
@testable import DLTrain
import XCTest

/// A translation recipe: the shipped one parses and reads back; every bad
/// field is an error that names it.
final class TranslationRecipeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func message(_ json: String) -> String {
        do {
            _ = try TranslationRecipe.parse(Data(json.utf8))
            XCTFail("parsed \(json)")
        } catch let TrainingError.invalidRecipe(m) {
            return m
        } catch {
            XCTFail("\(error)")
        }
        return ""
    }

    static let model = #"""
        {"inputs": [{"name": "src", "shape": [-1], "dtype": "int64"}, {"name": "tgt", "shape": [-1], "dtype": "int64"}],
         "outputs": ["logits"], "layers": [
          {"name": "e", "type": "embedding", "inputs": ["tgt"], "attrs": {"vocab_size": "$target_vocab", "dim": 8}},
          {"name": "logits", "type": "dense", "inputs": ["e"], "attrs": {"units": "$target_vocab"}}]}
        """#

    func recipe(_ extra: String = "", data: String = #"{"train": "t.tsv", "dev": "d.tsv"}"#, model: String = model) -> String {
        #"{"name": "mt", "task": "translation", "data": \#(data), "model": \#(model)\#(extra)}"#
    }

    func testTheShippedRecipeParsesAndReadsBack() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("recipes/translate-en-es.json"))
        XCTAssertTrue(TranslationRecipe.isRecipe(data))
        XCTAssertFalse(SkipGramRecipe.isRecipe(data))
        let r = try TranslationRecipe.parse(data)
        XCTAssertEqual(r.name, "translate-en-es")
        XCTAssertEqual(r.data.dir, "data/translate-en-es/all")
        XCTAssertEqual(r.optimizer.beta2, 0.98)
        XCTAssertEqual(r.labelSmoothing, 0.1)
        XCTAssertEqual(r.model.inputs.map(\.name), ["src", "tgt"])
        XCTAssertEqual(try TranslationRecipe.parse(JSONFile.encode(r)), r, "recipe.json reads back")
        let spec = r.resolvedModel(sourceVocabulary: 100, targetVocabulary: 120)
        let built = try GraphModel(spec: spec)
        XCTAssertEqual(built.outputShape, [-1, 120])
    }

    func testDefaults() throws {
        let r = try TranslationRecipe.parse(Data(recipe().utf8))
        XCTAssertEqual(r.subwords, .init(merges: 8000, shared: true))
        XCTAssertEqual(r.optimizer, .init())
        XCTAssertEqual(r.batchTokens, 4096)
        XCTAssertEqual(r.data.maxLength, 128)
    }

    func testFieldsAreCheckedByName() {
        XCTAssertTrue(message(recipe(#", "epoch": 3"#)).contains("unknown field 'epoch'"))
        XCTAssertTrue(message(recipe(data: #"{"train": "t.tsv", "dev": "d.tsv", "limt": 3}"#)).contains("'data.limt'"))
        XCTAssertTrue(message(recipe(data: #"{"train": "t.tsv", "dev": "d.tsv", "limit": 0}"#)).contains("data.limit"))
        XCTAssertTrue(message(recipe(data: #"{"train": "", "dev": "d.tsv"}"#)).contains("data.train"))
        XCTAssertTrue(message(recipe(#", "subwords": {"merges": -1}"#)).contains("subwords.merges"))
        XCTAssertTrue(message(recipe(#", "subwords": {"share": true}"#)).contains("'subwords.share'"))
        XCTAssertTrue(message(recipe(#", "optimizer": {"lr": 0}"#)).contains("optimizer.lr"))
        XCTAssertTrue(message(recipe(#", "optimizer": {"beta2": 1}"#)).contains("optimizer.beta2"))
        XCTAssertTrue(message(recipe(#", "optimizer": {"warmup": 10}"#)).contains("'optimizer.warmup'"))
        XCTAssertTrue(message(recipe(#", "optimizer": {"clip_norm": -1}"#)).contains("optimizer.clip_norm"))
        XCTAssertTrue(message(recipe(#", "label_smoothing": 1"#)).contains("label_smoothing"))
        XCTAssertTrue(message(recipe(#", "batch_tokens": 0"#)).contains("batch_tokens"))
        XCTAssertTrue(message(recipe(#", "epochs": 0"#)).contains("epochs"))
        XCTAssertTrue(message(recipe().replacingOccurrences(of: "\"translation\"", with: "\"sentiment\"")).contains("task must be 'translation'"))
        XCTAssertTrue(message(recipe().replacingOccurrences(of: "\"mt\"", with: "\"../x\"")).contains("name"))
        XCTAssertTrue(message(#"{"name": "mt", "task": "translation", "data": {}}"#).contains("model"))
    }

    func testTheModelIsChecked() {
        let oneInput = #"{"input_shape": [-1], "layers": [{"name": "d", "type": "dense", "inputs": ["input"], "attrs": {"units": 2}}]}"#
        XCTAssertTrue(message(recipe(model: oneInput)).contains("model: inputs must be \"src\" then \"tgt\""))
        let notLogits = Self.model.replacingOccurrences(of: #"{"units": "$target_vocab"}"#, with: #"{"units": 3}"#)
        XCTAssertTrue(message(recipe(model: notLogits)).contains("model: output 'logits' must be logits"))
        let unknownLayer = Self.model.replacingOccurrences(of: "\"dense\"", with: "\"densee\"")
        XCTAssertTrue(message(recipe(model: unknownLayer)).hasPrefix("model: "))
    }
}
