import DLNN
import DLText
@testable import DLTrain
import XCTest

/// A skip-gram recipe: strict parsing, and a run from a corpus file to a
/// published word-vector model in the repository layout of glove-6b-50d.
final class SkipGramRecipeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-sgr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("models"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func message(_ json: String) -> String {
        do {
            _ = try SkipGramRecipe.parse(Data(json.utf8))
            XCTFail("parsed \(json)")
        } catch let TrainingError.invalidRecipe(m) {
            return m
        } catch {
            XCTFail("\(error)")
        }
        return ""
    }

    func testTheShippedRecipeParses() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("recipes/skipgram-demo.json"))
        XCTAssertTrue(SkipGramRecipe.isRecipe(data))
        let r = try SkipGramRecipe.parse(data)
        XCTAssertEqual(r.name, "skipgram-demo")
        XCTAssertEqual(r.corpus, .init(path: "data/sentiment-rt/train.tsv", column: 1))
        XCTAssertEqual(r.options.dim, 50)
        XCTAssertEqual(r.options.subsample, 0.001)
        XCTAssertEqual(try SkipGramRecipe.parse(JSONFile.encode(r)), r, "recipe.json reads back")
        XCTAssertFalse(SkipGramRecipe.isRecipe(Data(#"{"name": "x", "dataset": {"name": "fashion-mnist"}}"#.utf8)))
    }

    func testFieldsAreCheckedByName() {
        let base = #""name": "w", "task": "word_vectors", "corpus": {"path": "c.txt"}"#
        XCTAssertTrue(message("{\(base), \"windw\": 3}").contains("unknown field 'windw'"))
        XCTAssertTrue(message(#"{"name": "w", "task": "word_vectors", "corpus": {"path": "c.txt", "col": 1}}"#).contains("'corpus.col'"))
        XCTAssertTrue(message(#"{"name": "w", "task": "sentiment", "corpus": {"path": "c.txt"}}"#).contains("task must be 'word_vectors'"))
        XCTAssertTrue(message("{\(base), \"negatives\": 0}").contains("negatives"))
        XCTAssertTrue(message("{\(base), \"optimizer\": \"rmsprop\"}").contains("optimizer"))
        XCTAssertTrue(message("{\(base), \"lr\": -1}").contains("lr"))
        XCTAssertTrue(message(#"{"name": "../x", "task": "word_vectors", "corpus": {"path": "c.txt"}}"#).contains("name"))
        XCTAssertTrue(message(#"{"name": "w", "task": "word_vectors"}"#).contains("corpus"))
    }

    func testARunPublishesAWordVectorModel() throws {
        var text = ""
        for s in SkipGramTrainingTests.topicSentences() { text += s.joined(separator: " ") + "\n" }
        try text.write(to: dir.appendingPathComponent("topics.txt"), atomically: true, encoding: .utf8)
        var options = SkipGramTrainer.Options()
        options.dim = 8; options.epochs = 2; options.window = 2
        let recipe = SkipGramRecipe(name: "topics", corpus: .init(path: "topics.txt"), options: options)
        let repository = ModelRepository(root: dir.appendingPathComponent("models"))
        var seen: [Int] = []
        let outcome = try recipe.run(base: dir, repository: repository, onEpoch: { seen.append($0.epoch) })
        XCTAssertEqual(outcome.version, 1)
        XCTAssertEqual(seen, [1, 2])
        // Loads as the daemon loads a version: config, model.json, weights, metrics.
        let loaded = try repository.load("topics", version: 1)
        XCTAssertEqual(loaded.config.task, .wordVectors)
        XCTAssertEqual(loaded.config.input.text?.vocabulary, "vocab.txt")
        XCTAssertEqual(loaded.model.stateDict.map(\.name), ["embedding.weight"])
        let (words, vectors) = try WordVectorFiles.read(version: loaded.directory)
        XCTAssertEqual(words.count, 14)
        XCTAssertEqual(vectors.shape, [14, 8])
        XCTAssertNoThrow(try Vocabulary(words: words))
        guard case .object(let m)? = loaded.metrics, case .number(let tokens)? = m["tokens"] else { return XCTFail("metrics") }
        XCTAssertEqual(tokens, 4800)
        XCTAssertNotNil(loaded.recipe)
        // A second run is version 2 of the same model.
        XCTAssertEqual(try recipe.run(base: dir, repository: repository).version, 2)
        XCTAssertThrowsError(try SkipGramRecipe(name: "x", corpus: .init(path: "missing.txt")).run(base: dir, repository: repository))
    }

    /// The shipped recipe on the real corpus (data/sentiment-rt, made by `make
    /// data-sentiment`), 2 epochs: the loss falls and related words end up closer.
    func testTheDemoRecipeOnTheMovieReviewSentences() throws {
        guard FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("data/sentiment-rt/train.tsv").path) else {
            throw XCTSkip("data/sentiment-rt is missing: make data-sentiment")
        }
        var recipe = try SkipGramRecipe.parse(Data(contentsOf: Self.root.appendingPathComponent("recipes/skipgram-demo.json")))
        recipe.options.epochs = 2
        let corpus = try recipe.loadCorpus(base: Self.root)
        let trainer = SkipGramTrainer(corpus: corpus, options: recipe.options)
        let before = trainer.evaluate()
        let start = ContinuousClock.now
        let epochs = try trainer.train()
        let after = trainer.evaluate()
        print("skipgram-demo: \(corpus.vocabulary.count) words, \(corpus.tokenCount) tokens; loss \(before) -> \(after); epochs \(epochs.map(\.loss)) in \(ContinuousClock.now - start)")
        XCTAssertLessThan(after, 0.8 * before)
    }
}
