import DLNN
import DLServing
import DLTasks
import Foundation
import XCTest

/// `WordVectorModel.writeDebiased`: a debiased copy as a new model directory.
final class DebiasedModelTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = try ToyWordVectors.temporaryRoot()
        try ToyWordVectors.write(to: root)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func vectors(_ name: String) throws -> [String: [Float]] {
        let (words, t) = try WordVectorFiles.read(version: root.appendingPathComponent("\(name)/1"))
        return Dictionary(uniqueKeysWithValues: words.enumerated().map { i, w in (w, Array(t.data[(i * 3)..<((i + 1) * 3)])) })
    }

    func testNamedWordsAreNeutralizedAndPairsEqualized() async throws {
        let target = root.appendingPathComponent("toy-debiased")
        let summary = try WordVectorModel.writeDebiased(from: root.appendingPathComponent("toy"), to: target, pairs: [("man", "woman")],
                                                        neutral: .words(["nurse", "apple"]), equalize: [("boy", "girl")])
        XCTAssertEqual(summary.neutralizedWords, 2)
        XCTAssertEqual(summary.biasDirectionNorm, 2, accuracy: 1e-12)
        XCTAssertLessThan(summary.maxAbsProjectionAfter, 1e-6)
        let v = try vectors("toy-debiased"), g: [Float] = [-2, 0, 0]
        XCTAssertEqual(v["nurse"], [0, 2, 0])
        // As in WordVectorMathTests.testEqualizeByHand.
        XCTAssertEqual(v["boy"]![0], Float(0.1675.squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(v["girl"]![0], -Float(0.1675.squareRoot()), accuracy: 1e-6)
        XCTAssertEqual(WordVectorMath.distance(v["boy"]!, v["nurse"]!), WordVectorMath.distance(v["girl"]!, v["nurse"]!), accuracy: 1e-6)
        XCTAssertEqual(v["king"], ToyWordVectors.vectors[2], "other words are copied")
        XCTAssertEqual(WordVectorMath.projection(v["apple"]!, on: g), 0, accuracy: 1e-6)
        // A model the daemon serves, named after its directory, with what was done in metrics.json.
        let config = try ModelRepository(root: root).config(of: "toy-debiased")
        XCTAssertEqual(config.task, .wordVectors)
        let metrics = try String(contentsOf: target.appendingPathComponent("1/metrics.json"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"neutralized_words\" : 2"), metrics)
        let engine = try await ToyWordVectors.engine(root: root)
        let r = try await engine.perform(NearestWords(), model: "toy-debiased", request: .init(word: "boy", k: 1))
        XCTAssertEqual(r.model, "toy-debiased")
        _ = await engine.shutdown(timeout: .seconds(5))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") }, [], "no temporaries left")
    }

    func testAllButTheDefinitionalWordsAreNeutralized() throws {
        let summary = try WordVectorModel.writeDebiased(from: root.appendingPathComponent("toy"), to: root.appendingPathComponent("all"),
                                                        pairs: [("man", "woman")], neutral: .allExcept(["queen"]), equalize: [("boy", "girl")])
        XCTAssertEqual(summary.neutralizedWords, 3, "king, nurse, apple")
        let v = try vectors("all"), g: [Float] = [-2, 0, 0]
        for w in ["king", "nurse", "apple"] { XCTAssertEqual(WordVectorMath.projection(v[w]!, on: g), 0, accuracy: 1e-6, w) }
        for (i, w) in ["man", "woman", "queen"].enumerated() {
            XCTAssertEqual(v[w], ToyWordVectors.vectors[[0, 1, 3][i]], "\(w) is kept as it is")
        }
        XCTAssertEqual(v["<pad>"], [0, 0, 0])
    }

    func testProblemsAreReportedAndNothingIsWritten() throws {
        let source = root.appendingPathComponent("toy")
        func failure(_ target: String, pairs: [(String, String)] = [("man", "woman")], neutral: WordVectorModel.NeutralWords = .words(["nurse"]),
                     equalize: [(String, String)] = []) -> String {
            do {
                try WordVectorModel.writeDebiased(from: source, to: root.appendingPathComponent(target), pairs: pairs, neutral: neutral, equalize: equalize)
                XCTFail("wrote \(target)")
            } catch let e as WordVectorModel.Failure {
                return e.message
            } catch {
                XCTFail("\(error)")
            }
            return ""
        }
        XCTAssertTrue(failure("toy").contains("already exists"))
        XCTAssertTrue(failure("x", pairs: [("man", "wife")]).contains("'wife'"))
        XCTAssertTrue(failure("x", neutral: .words(["robot"])).contains("'robot'"))
        XCTAssertTrue(failure("x", pairs: []).contains("no bias pairs"))
        XCTAssertTrue(failure("x", neutral: .words(["boy"]), equalize: [("boy", "girl")]).contains("both a neutral word and in an equalize pair"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), ["toy"])
    }
}
