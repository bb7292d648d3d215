import DLText
import Foundation
import XCTest

/// BLEU, chrF and the 13a tokenizer against sacrebleu's values in
/// Fixtures/translation_metrics.json (scripts/fixtures/bleu_fixtures.py).
/// The fixture is read by path, so the test target needs no resource bundle.
final class TranslationMetricsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Tokenized: Decodable { var text: String; var tokens: [String] }
        struct BLEUValues: Decodable {
            var score: Double; var matches: [Int]; var totals: [Int]; var precisions: [Double]
            var bp: Double; var hyp_len: Int; var ref_len: Int
        }
        struct ChrFValues: Decodable { var score: Double; var hyp: [Int]; var ref: [Int]; var match: [Int] }
        struct Corpus: Decodable {
            var name: String; var hypotheses: [String]; var references: [String]
            var bleu: BLEUValues; var chrf: ChrFValues
        }
        struct File: Decodable {
            var name: String; var hypotheses: String; var references: String
            var reference_column: Int; var lines: Int; var bleu: Double; var chrf: Double
        }
        var tokenize: [Tokenized]
        var corpora: [Corpus]
        var files: [File]
    }

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func fixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/translation_metrics.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testTokenizer13aMatchesSacrebleu() throws {
        for t in try fixture().tokenize {
            XCTAssertEqual(Tokenizer13a.tokenize(t.text), t.tokens, "13a of \(t.text.debugDescription)")
        }
    }

    func testBLEUMatchesSacrebleu() throws {
        for c in try fixture().corpora {
            let s = try BLEU.corpus(hypotheses: c.hypotheses, references: c.references)
            XCTAssertEqual(s.matches, c.bleu.matches, c.name)
            XCTAssertEqual(s.totals, c.bleu.totals, c.name)
            XCTAssertEqual(s.hypothesisLength, c.bleu.hyp_len, c.name)
            XCTAssertEqual(s.referenceLength, c.bleu.ref_len, c.name)
            XCTAssertEqual(s.brevityPenalty, c.bleu.bp, accuracy: 1e-9, c.name)
            for (p, q) in zip(s.precisions, c.bleu.precisions) { XCTAssertEqual(p, q, accuracy: 1e-9, c.name) }
            // The bar of the issue is 0.1; the arithmetic is the same, so hold it to 1e-6.
            XCTAssertEqual(s.score, c.bleu.score, accuracy: 1e-6, c.name)
        }
    }

    func testChrFMatchesSacrebleu() throws {
        for c in try fixture().corpora {
            let s = try ChrF.corpus(hypotheses: c.hypotheses, references: c.references)
            XCTAssertEqual(s.hypothesisNGrams, c.chrf.hyp, c.name)
            XCTAssertEqual(s.referenceNGrams, c.chrf.ref, c.name)
            XCTAssertEqual(s.matches, c.chrf.match, c.name)
            XCTAssertEqual(s.score, c.chrf.score, accuracy: 1e-6, c.name)
        }
    }

    /// The whole Apertium test-set outputs, when `make baseline-translation` has made them.
    func testWholeApertiumFilesWithinATenth() throws {
        var scored = 0
        for f in try fixture().files {
            let hypURL = Self.repoRoot.appendingPathComponent(f.hypotheses)
            let refURL = Self.repoRoot.appendingPathComponent(f.references)
            guard FileManager.default.fileExists(atPath: hypURL.path),
                  FileManager.default.fileExists(atPath: refURL.path) else { continue }
            let hyps = try lines(hypURL)
            let refs = try lines(refURL).map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[f.reference_column]) }
            XCTAssertEqual(hyps.count, f.lines, f.name)
            XCTAssertEqual(try BLEU.corpus(hypotheses: hyps, references: refs).score, f.bleu, accuracy: 0.1, f.name)
            XCTAssertEqual(try ChrF.corpus(hypotheses: hyps, references: refs).score, f.chrf, accuracy: 0.1, f.name)
            scored += 1
        }
        if scored == 0 { throw XCTSkip("no data/translate-en-es/apertium outputs; run make baseline-translation") }
    }

    func testMismatchedLineCountsThrow() {
        XCTAssertThrowsError(try BLEU.corpus(hypotheses: ["a"], references: ["a", "b"]))
        XCTAssertThrowsError(try ChrF.corpus(hypotheses: [], references: ["a"]))
    }

    /// Hand-derived: hypothesis "a b c d e" against "a b c d e f g h i j".
    /// Every n-gram matches, so each precision is 100; c = 5, r = 10, so
    /// BLEU = exp(1 - 10/5) * 100 = 36.7879...
    func testBrevityPenaltyByHand() throws {
        let s = try BLEU.corpus(hypotheses: ["a b c d e"], references: ["a b c d e f g h i j"])
        XCTAssertEqual(s.precisions, [100, 100, 100, 100])
        XCTAssertEqual(s.score, 100 * exp(-1.0), accuracy: 1e-9)
    }

    func lines(_ url: URL) throws -> [String] {
        var l = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        if l.last == "" { l.removeLast() }
        return l
    }
}
