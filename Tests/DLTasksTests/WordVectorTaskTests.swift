import DLServing
import DLTasks
import Foundation
import XCTest

/// The three word-vector routes on the hand-made model, served from files by
/// a real engine (the model loads as a text model: model.json, weights,
/// vocab.txt checked against the embedding).
final class WordVectorTaskTests: XCTestCase {
    var root: URL!
    var engine: ServingEngine!

    override func setUp() async throws {
        root = try ToyWordVectors.temporaryRoot()
        try ToyWordVectors.write(to: root)
        engine = try await ToyWordVectors.engine(root: root)
    }

    override func tearDown() async throws {
        _ = await engine?.shutdown(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: root)
    }

    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// The message of the `invalidInput` that `body` throws.
    func invalidInput(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> String {
        do {
            try await body()
            XCTFail("no error", file: file, line: line)
        } catch let e as ServingError {
            if let m = e.invalidInputMessage { return m }
            XCTFail("\(e)", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return ""
    }

    func testNearestExcludesTheQueryAndSortsByCosine() async throws {
        let r = try await engine.perform(NearestWords(), model: "toy", request: try decode(NearestWords.Request.self, #"{"word": "King", "k": 3}"#))
        XCTAssertEqual(r.word, "king")
        XCTAssertEqual(r.version, 1)
        // king [1,1,1]: man and boy [1,0,~1] 2/sqrt(6) ~ 0.816 / 1.9/sqrt(3*1.81) ~ 0.815; queen 1/3.
        XCTAssertEqual(r.results.map(\.word), ["man", "boy", "nurse"])
        XCTAssertEqual(r.results[0].cosine, Float(2 / 6.0.squareRoot()), accuracy: 1e-6)
        XCTAssertFalse(r.results.contains { $0.word == "king" || $0.word.hasPrefix("<") })
        let all = try await engine.perform(NearestWords(), model: "toy", request: NearestWords.Request(word: "apple", k: 100))
        XCTAssertEqual(all.results.count, 7, "every word but the query and the reserved rows")
    }

    func testAnalogyFindsQueenAndExcludesTheInputs() async throws {
        let r = try await engine.perform(WordAnalogy(), model: "toy", request: try decode(WordAnalogy.Request.self, #"{"a": "man", "b": "woman", "c": "king"}"#))
        XCTAssertEqual(r.results.first?.word, "queen")
        XCTAssertEqual(r.results.first!.cosine, 1, accuracy: 1e-6)
        // boy - man + woman = [-1, 0, 0.9] is nearest to woman, an input: girl comes first.
        let boy = try await engine.perform(WordAnalogy(), model: "toy", request: WordAnalogy.Request(a: "man", b: "woman", c: "boy", k: 10))
        XCTAssertEqual(boy.results.first?.word, "girl")
        XCTAssertFalse(boy.results.contains { ["man", "woman", "boy"].contains($0.word) })
        XCTAssertEqual(boy.results.count, 5)
    }

    func testDebiasAnswersVectorsAClientCanCheck() async throws {
        let request = try decode(WordDebias.Request.self,
                                 #"{"bias_pairs": [["man", "woman"]], "neutralize": ["nurse", "apple"], "equalize": [["boy", "girl"]]}"#)
        let r = try await engine.perform(WordDebias(), model: "toy", request: request)
        XCTAssertEqual(r.biasDirection.vector, [-2, 0, 0])
        XCTAssertEqual(r.biasDirection.norm, 2)
        XCTAssertEqual(r.neutralized.map(\.word), ["nurse", "apple"])
        XCTAssertEqual(r.neutralized[0].projectionBefore, -0.5, accuracy: 1e-6)
        XCTAssertEqual(r.neutralized[0].vector, [0, 2, 0])
        for n in r.neutralized {
            XCTAssertEqual(n.projectionAfter, 0, accuracy: 1e-5)
            XCTAssertEqual(n.cosineAfter, 0, accuracy: 1e-5)
        }
        let eq = try XCTUnwrap(r.equalized.first)
        XCTAssertEqual(eq.words, ["boy", "girl"])
        XCTAssertEqual(eq.projectionsAfter[0], -eq.projectionsAfter[1], accuracy: 1e-6)
        XCTAssertEqual(eq.distances.map(\.word), ["nurse", "apple"])
        for d in eq.distances { XCTAssertEqual(d.distances[0], d.distances[1], accuracy: 1e-5) }
        // The JSON a client sees.
        let json = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        for key in ["bias_direction", "projection_after", "projections_after", "cosines_after", "distances"] {
            XCTAssertTrue(json.contains("\"\(key)\""), key)
        }
    }

    func testClientErrorsNameTheFieldOrWord() async throws {
        var m = await invalidInput { _ = try await self.engine.perform(NearestWords(), model: "toy", request: .init(word: "zebra")) }
        XCTAssertTrue(m.contains("'word'") && m.contains("zebra"), m)
        m = await invalidInput { _ = try await self.engine.perform(NearestWords(), model: "toy", request: .init(word: "<unk>")) }
        XCTAssertTrue(m.contains("<unk>"), "reserved tokens are not words: \(m)")
        m = await invalidInput { _ = try await self.engine.perform(WordAnalogy(), model: "toy", request: .init(a: "man", b: "wife", c: "king")) }
        XCTAssertTrue(m.contains("'b'") && m.contains("wife"), m)
        m = await invalidInput { _ = try await self.engine.perform(NearestWords(), model: "toy", request: .init(word: "man", k: 101)) }
        XCTAssertTrue(m.contains("'k'"), m)
        m = await invalidInput {
            _ = try await self.engine.perform(WordDebias(), model: "toy", request: .init(biasPairs: [("man", "woman")], neutralize: ["nurse", "robot"]))
        }
        XCTAssertTrue(m.contains("neutralize[1]") && m.contains("robot"), m)
        m = await invalidInput { _ = try await self.engine.perform(WordDebias(), model: "toy", request: .init(biasPairs: [], neutralize: ["nurse"])) }
        XCTAssertTrue(m.contains("'bias_pairs' is empty"), m)
        m = await invalidInput { _ = try await self.engine.perform(WordDebias(), model: "toy", request: .init(biasPairs: [("man", "woman")])) }
        XCTAssertTrue(m.contains("both empty"), m)
        m = await invalidInput {
            _ = try await self.engine.perform(WordDebias(), model: "toy", request: .init(biasPairs: [("man", "woman")], equalize: [("boy", "Boy")]))
        }
        XCTAssertTrue(m.contains("equalize[0]"), m)
        m = await invalidInput {
            _ = try await self.engine.perform(WordDebias(), model: "toy",
                                              request: .init(biasPairs: [("man", "woman")], neutralize: Array(repeating: "nurse", count: 99)))
        }
        XCTAssertTrue(m.contains("at most 100 words"), m)
    }

    func testDecodingIsStrict() throws {
        func message<T: Decodable>(_ t: T.Type, _ json: String) -> String {
            do {
                _ = try decode(T.self, json)
                XCTFail("decoded \(json)")
            } catch let e as ServingError {
                return e.invalidInputMessage ?? "\(e)"
            } catch {
                XCTFail("\(error)")
            }
            return ""
        }
        XCTAssertTrue(message(NearestWords.Request.self, #"{"word": "frog", "top": 3}"#).contains("unknown field 'top'"))
        XCTAssertTrue(message(NearestWords.Request.self, #"{"k": 3}"#).contains("needs 'word'"))
        XCTAssertTrue(message(NearestWords.Request.self, #"{"word": 3}"#).contains("'word' must be a string"))
        XCTAssertTrue(message(NearestWords.Request.self, #"{"word": "frog", "k": 0}"#).contains("1...100"))
        XCTAssertTrue(message(NearestWords.Request.self, #"{"word": "frog", "k": 2.5}"#).contains("'k' must be an integer"))
        XCTAssertTrue(message(NearestWords.Request.self, #"["frog"]"#).contains("JSON object"))
        XCTAssertTrue(message(WordAnalogy.Request.self, #"{"a": "man", "b": "woman"}"#).contains("needs 'c'"))
        XCTAssertTrue(message(WordDebias.Request.self, #"{"bias_pairs": [["man"]], "neutralize": ["nurse"]}"#).contains("'bias_pairs[0]' must be two words"))
        XCTAssertTrue(message(WordDebias.Request.self, #"{"bias_pairs": "man", "neutralize": ["nurse"]}"#).contains("list of word pairs"))
        XCTAssertTrue(message(WordDebias.Request.self, #"{"bias_pairs": [["man", "woman"]], "neutral": ["nurse"]}"#).contains("unknown field 'neutral'"))
        XCTAssertEqual(try decode(NearestWords.Request.self, #"{"word": "frog"}"#), NearestWords.Request(word: "frog", k: 10))
    }

    func testOtherTasksModelsAreRefused() async throws {
        do {
            _ = try await engine.perform(Sentiment(), model: "toy", request: Sentiment.Request(texts: ["fine"]))
            XCTFail("a word-vector model answered sentiment")
        } catch ServingError.unsupportedTask {
        }
    }
}
