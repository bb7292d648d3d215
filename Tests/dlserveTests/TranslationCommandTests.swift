@testable import dlserve
import DLNN
import DLServeTesting
import DLText
import DLTrain
import XCTest

/// `dlserve predict` and `dlserve eval` with a translation model: the tiny
/// random-weight fixture model (DLServeTesting.TranslationFixture) with its
/// subwords in a temporary repository.
final class TranslationCommandTests: XCTestCase {
    var root: URL!
    var modelDir: URL { root.appendingPathComponent("models/tiny-mt") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mt-cli-\(UUID().uuidString)")
        try TranslationFixture.publish(in: ModelRepository(root: root.appendingPathComponent("models")), name: "tiny-mt")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func testPredictTranslatesWithTheDecodingLibrarysAnswer() throws {
        let loaded = try ModelRepository(root: root.appendingPathComponent("models")).load("tiny-mt", version: 1)
        let texts = TranslationFixture.pairs.prefix(3).map(\.source)
        let options = try TranslationPredictOptions.parse(["--beam-width", "3", "--n-best", "2", "--length-penalty", "0.5"])
        let lines = try options.lines(loaded, texts: Array(texts))
        XCTAssertEqual(lines.map(\.text), Array(texts))
        let subwords = try TranslationSubwords.load(from: loaded.directory)
        let stepper = try EncoderDecoderStepper(model: loaded.model)
        for (line, text) in zip(lines, texts) {
            let source = subwords.encodeSource(text)
            let expected = try decode(stepper, sources: [source], options: DecodingOptions(
                startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: 3, lengthPenalty: 0.5, nBest: 2,
                maxLength: 2 * source.count + 10))[0]
            XCTAssertEqual(line.translation, subwords.decodeTarget(Array(expected.best!.content)))
            XCTAssertEqual(line.score, expected.best!.score, accuracy: 1e-5, "batched with the other texts: float rounding only")
            let list = try XCTUnwrap(line.nBest)
            XCTAssertEqual(list.count, expected.hypotheses.count)
            XCTAssertEqual(list.map(\.score), list.map(\.score).sorted(by: >), "best first")
        }
        // Greedy equals beam width 1 and lists nothing.
        let greedy = try TranslationPredictOptions.parse(["--beam-width", "1"]).lines(loaded, texts: [texts[0]])
        XCTAssertNil(greedy[0].nBest)
        // Errors are CLI messages.
        XCTAssertThrowsError(try TranslationPredictOptions.parse(["--beam-width", "2", "--n-best", "3"]))
        XCTAssertThrowsError(try TranslationPredictOptions.parse(["--length-penalty", "-1"]))
        XCTAssertThrowsError(try options.lines(loaded, texts: ["  "])) { XCTAssertTrue("\($0)".contains("text 1 is empty")) }
        let long = Array(repeating: "the cat", count: 40).joined(separator: " ")
        XCTAssertThrowsError(try options.lines(loaded, texts: [long])) { XCTAssertTrue("\($0)".contains("max_length 24")) }
    }

    func testEvalScoresParallelTextAndWritesTheTranslations() throws {
        let data = root.appendingPathComponent("pairs.tsv"), out = root.appendingPathComponent("out.es")
        try TranslationFixture.pairs.map { "\($0.source)\t\($0.target)\n" }.joined().write(to: data, atomically: true, encoding: .utf8)
        var eval = try DLServeCommand.parseAsRoot(["eval", "--model", modelDir.path, "--data", data.path, "--beam-width", "2",
                                                   "--translations", out.path])
        try eval.run()
        let translations = try String(contentsOf: out, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        XCTAssertEqual(translations.count, TranslationFixture.pairs.count)
        let loaded = try ModelRepository(root: root.appendingPathComponent("models")).load("tiny-mt", version: 1)
        let subwords = try TranslationSubwords.load(from: loaded.directory)
        let (score, again) = try TranslationScore.measure(loaded.model, subwords: subwords, pairs: TranslationFixture.pairs, beamWidth: 2)
        XCTAssertEqual(translations, again)
        XCTAssertEqual(score.bleu, try BLEU.corpus(hypotheses: translations, references: TranslationFixture.pairs.map(\.target)).score)
        // A missing file is a CLI error, not a crash.
        var missing = try DLServeCommand.parseAsRoot(["eval", "--model", modelDir.path, "--data", root.appendingPathComponent("nope.tsv").path])
        XCTAssertThrowsError(try missing.run()) { XCTAssertTrue("\($0)".contains("nope.tsv")) }
    }
}
