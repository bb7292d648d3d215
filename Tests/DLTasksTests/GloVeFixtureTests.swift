import DLNN
import DLServing
import DLTasks
import DLText
import Foundation
import XCTest

/// The word-vector math on the real GloVe 6B 50d (models/glove-6b-50d, made by
/// `make glove`) against Fixtures/wordvec_expected.json, which
/// scripts/fixtures/wordvec_fixtures.py computes with numpy in float64 over the
/// same files (its docstring gives each entry's meaning). Skipped when the
/// model directory is absent.
final class GloVeFixtureTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("models/glove-6b-50d")

    struct Scored: Decodable { var word: String; var cosine: Double }
    struct Top: Decodable { var results: [Scored]; var next_cosine: Double }
    struct Analogy: Decodable { var a: String; var b: String; var c: String; var results: [Scored]; var next_cosine: Double }
    struct Neutral: Decodable {
        var cosine_with_g_before: Double, cosine_with_g_after: Double
        var projection_on_g_before: Double, projection_on_g_after: Double
        var vector_after: [Float]
    }
    struct Equal: Decodable {
        var words: [String]; var vectors: [[Float]]; var cosine_with_g: [Double]
        var distance_to_neutralized_receptionist: [Double]
    }
    struct Debias: Decodable {
        var g: [Float]; var g_norm: Double
        var neutralize: [String: Neutral]
        var equalize: [String: Equal]
    }
    struct Fixture: Decodable {
        var vectors: [String: [Float]]
        var nearest: [String: Top]
        var analogies: [Analogy]
        var debias: Debias
    }

    static func fixture() throws -> Fixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/wordvec_expected", withExtension: "json"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func space() throws -> WordVectorSpace {
        guard FileManager.default.fileExists(atPath: model.appendingPathComponent("1/weights.safetensors").path) else {
            throw XCTSkip("models/glove-6b-50d is missing: make glove")
        }
        let (words, vectors) = try WordVectorFiles.read(version: model.appendingPathComponent("1"))
        return WordVectorSpace(vocabulary: try Vocabulary(words: words), vectors: vectors)
    }

    func assertSame(_ got: [(word: String, cosine: Float)], _ want: [Scored], _ what: String) {
        XCTAssertEqual(got.map(\.word), want.map(\.word), what)
        for (g, w) in zip(got, want) { XCTAssertEqual(Double(g.cosine), w.cosine, accuracy: 1e-5, "\(what): \(w.word)") }
    }

    func testLoaderReadsTheStoredVectors() throws {
        let space = try Self.space(), f = try Self.fixture()
        XCTAssertEqual(space.rows, 100_002)
        for (w, v) in f.vectors { XCTAssertEqual(space.vector(try XCTUnwrap(space.row(w), w)), v, w) }
    }

    func testNearestWordsMatchNumpy() throws {
        let space = try Self.space(), f = try Self.fixture()
        for (q, top) in f.nearest {
            assertSame(space.nearest(row: try XCTUnwrap(space.row(q)), k: 10), top.results, "nearest(\(q))")
        }
        XCTAssertEqual(space.nearest(row: space.row("frog")!, k: 5).map(\.word), ["snake", "ape", "toad", "monkey", "spider"])
    }

    func testAnalogiesMatchNumpyAndQueenComesFirst() throws {
        let space = try Self.space(), f = try Self.fixture()
        for a in f.analogies {
            let got = space.analogy(a: space.row(a.a)!, b: space.row(a.b)!, c: space.row(a.c)!, k: 5)
            assertSame(got, a.results, "\(a.a):\(a.b)::\(a.c)")
        }
        XCTAssertEqual(space.analogy(a: space.row("man")!, b: space.row("woman")!, c: space.row("king")!, k: 1).first?.word, "queen")
    }

    func testDebiasMatchesNumpy() throws {
        let space = try Self.space(), f = try Self.fixture()
        let request = WordDebias.Request(biasPairs: [("man", "woman")], neutralize: ["receptionist", "engineer"],
                                         equalize: [("man", "woman"), ("boy", "girl")])
        let r = try WordDebias.debias(request, in: space)
        for (x, y) in zip(r.biasDirection.vector, f.debias.g) { XCTAssertEqual(x, y, accuracy: 1e-6, "g = e_woman - e_man") }
        XCTAssertEqual(Double(r.biasDirection.norm), f.debias.g_norm, accuracy: 1e-6)
        for n in r.neutralized {
            let want = try XCTUnwrap(f.debias.neutralize[n.word])
            XCTAssertEqual(Double(n.projectionBefore), want.projection_on_g_before, accuracy: 1e-6)
            XCTAssertEqual(Double(n.cosineBefore), want.cosine_with_g_before, accuracy: 1e-6)
            XCTAssertEqual(n.projectionAfter, 0, accuracy: 1e-5)
            for (x, y) in zip(n.vector, want.vector_after) { XCTAssertEqual(x, y, accuracy: 1e-6, n.word) }
        }
        for e in r.equalized {
            let want = try XCTUnwrap(f.debias.equalize[e.words.joined(separator: "_")])
            for (got, v) in zip(e.vectors, want.vectors) { for (x, y) in zip(got, v) { XCTAssertEqual(x, y, accuracy: 1e-5, "\(e.words)") } }
            for (x, y) in zip(e.cosinesAfter, want.cosine_with_g) { XCTAssertEqual(Double(x), y, accuracy: 1e-5) }
            let receptionist = try XCTUnwrap(e.distances.first { $0.word == "receptionist" })
            for (x, y) in zip(receptionist.distances, want.distance_to_neutralized_receptionist) { XCTAssertEqual(Double(x), y, accuracy: 1e-5) }
            XCTAssertEqual(receptionist.distances[0], receptionist.distances[1], accuracy: 1e-5)
        }
        // The exercise's published value for (man, woman).
        XCTAssertEqual(r.equalized[0].cosinesAfter[0], -0.700436429, accuracy: 1e-5)
    }

    /// The debiased copy of the real model holds the fixture's vectors, and
    /// neutralizing every non-definitional word leaves no projection on g.
    func testDebiasedCopyMatchesNumpy() throws {
        _ = try Self.space()
        let f = try Self.fixture()
        let root = try ToyWordVectors.temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let target = root.appendingPathComponent("glove-debiased")
        try WordVectorModel.writeDebiased(from: Self.model, to: target, pairs: [("man", "woman")],
                                          neutral: .words(["receptionist", "engineer"]), equalize: [("boy", "girl")])
        let (words, vectors) = try WordVectorFiles.read(version: target.appendingPathComponent("1"))
        let space = WordVectorSpace(vocabulary: try Vocabulary(words: words), vectors: vectors)
        for w in ["receptionist", "engineer"] {
            for (x, y) in zip(space.vector(space.row(w)!), f.debias.neutralize[w]!.vector_after) { XCTAssertEqual(x, y, accuracy: 1e-6, w) }
        }
        for (i, w) in ["boy", "girl"].enumerated() {
            for (x, y) in zip(space.vector(space.row(w)!), f.debias.equalize["boy_girl"]!.vectors[i]) { XCTAssertEqual(x, y, accuracy: 1e-5, w) }
        }
        XCTAssertEqual(space.vector(space.row("king")!), f.vectors["king"], "other words are copied")

        let all = root.appendingPathComponent("glove-all")
        let start = ContinuousClock.now
        let summary = try WordVectorModel.writeDebiased(from: Self.model, to: all, pairs: [("man", "woman"), ("he", "she")],
                                                        neutral: .allExcept(["king", "queen"]), equalize: [("boy", "girl"), ("man", "woman")])
        print("glove, every word but 8 neutralized: \(summary.neutralizedWords) words in \(ContinuousClock.now - start)")
        XCTAssertEqual(summary.neutralizedWords, 100_000 - 8, "all but man, woman, he, she, boy, girl, king, queen")
        XCTAssertLessThan(summary.maxAbsProjectionAfter, 1e-5)
    }

    /// The directory `make glove` writes loads in the daemon as a text model
    /// and answers the routes.
    func testTheDaemonServesTheGloVeDirectory() async throws {
        _ = try Self.space()
        // A repository of this one model (models/ holds others).
        let root = try ToyWordVectors.temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("glove-6b-50d"), withDestinationURL: Self.model)
        let engine = try await ToyWordVectors.engine(root: root)
        let status = try engine.status(model: "glove-6b-50d")
        XCTAssertTrue(engine.isReady(model: "glove-6b-50d"), "\(status)")
        let r = try await engine.perform(WordAnalogy(), model: "glove-6b-50d", request: .init(a: "man", b: "woman", c: "king", k: 3))
        XCTAssertEqual(r.results.first?.word, "queen")
        let n = try await engine.perform(NearestWords(), model: "glove-6b-50d", request: .init(word: "Frog", k: 3))
        XCTAssertEqual(n.results.map(\.word), ["snake", "ape", "toad"])
        _ = await engine.shutdown(timeout: .seconds(5))
    }
}
