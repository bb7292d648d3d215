@testable import DLText
import XCTest

final class BPERoundTripTests: XCTestCase {
    static let corpus = SubwordCorpus.sentences(count: 300, seed: 11)

    func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    func testPiecesKeepCaseAccentsAndPunctuation() {
        let p = SubwordPreTokenizer.pieces("¿Qué   tal,\tSeñor Núñez?  «Bien» (3,5 €)")
        XCTAssertEqual(p.map(\.description), ["▁¿", "Qué", "▁tal", ",", "▁Señor", "▁Núñez", "?", "▁«", "Bien", "»",
                                              "▁(", "3", ",", "5", "▁€", ")"])
        // NFC: e + combining acute is é.
        XCTAssertEqual(SubwordPreTokenizer.pieces("cafe\u{301}").map(\.body), ["café"])
        XCTAssertEqual(scalars(SubwordPreTokenizer.normalize("  a \n\t b\u{A0}c  ")), scalars("a b c"))
        XCTAssertEqual(SubwordPreTokenizer.pieces(String(repeating: "x", count: 130)).map(\.body.count), [64, 64, 2])
        XCTAssertEqual(SubwordPreTokenizer.pieces("").count, 0)
    }

    func testRandomStringsRoundTripWithByteFallback() {
        let tok = BPETokenizer(model: BPELearner.learn(Self.corpus, options: BPEOptions(merges: 200)))
        var rng = SplitMix64(seed: 42)
        for _ in 0..<3000 {
            let x = SubwordCorpus.randomString(length: Int.random(in: 0...40, using: &rng), using: &rng)
            let ids = tok.encode(x)
            XCTAssertFalse(ids.contains(BPEModel.unknownID))
            XCTAssertEqual(scalars(tok.decode(ids)), scalars(SubwordPreTokenizer.normalize(x)), "\(x.debugDescription)")
        }
        for s in Self.corpus {
            XCTAssertEqual(scalars(tok.decode(tok.encode(s))), scalars(s))
        }
    }

    func testUnknownCharactersWithoutByteFallback() {
        let model = BPELearner.learn(Self.corpus, options: BPEOptions(merges: 200, byteFallback: false))
        let tok = BPETokenizer(model: model)
        let known = Set(Self.corpus.joined().unicodeScalars)
        var rng = SplitMix64(seed: 43)
        for _ in 0..<3000 {
            let x = SubwordCorpus.randomString(length: Int.random(in: 0...40, using: &rng), using: &rng)
            let n = SubwordPreTokenizer.normalize(x)
            // Each character never seen reads '⁇'; the marker in the text is never known.
            let expected = String(String.UnicodeScalarView(n.unicodeScalars.map {
                $0 == " " || (known.contains($0) && $0 != SubwordPreTokenizer.marker) ? $0 : "\u{2047}"
            }))
            XCTAssertEqual(scalars(tok.decode(tok.encode(x))), scalars(expected), "\(x.debugDescription)")
        }
        XCTAssertEqual(tok.encode("x\u{4E2D}").filter { $0 == BPEModel.unknownID }.count, 2)
    }

    func testBeginEndPaddingAndBadIdsDecode() {
        let tok = BPETokenizer(model: BPELearner.learn(Self.corpus, options: BPEOptions(merges: 200)))
        let ids = tok.encode("¿Qué está?", addBeginning: true, addEnd: true)
        XCTAssertEqual(ids.first, BPEModel.beginningID)
        XCTAssertEqual(ids.last, BPEModel.endID)
        XCTAssertEqual(tok.decode([0, 0] + ids + [0]), "¿Qué está?")
        XCTAssertEqual(tok.decode([BPEModel.unknownID, -5, 1_000_000]), "\u{2047}\u{2047}\u{2047}")
        // A lone continuation byte from a model decodes as U+FFFD, without a crash.
        XCTAssertEqual(tok.decode([BPEModel.byteID(0x80)]), "\u{FFFD}")
        // An encoded literal marker comes back as itself, not as a space.
        XCTAssertEqual(tok.decode(tok.encode("a ▁ b▁")), "a ▁ b▁")
    }

    func testConcurrentEncodingAgrees() {
        let tok = BPETokenizer(model: BPELearner.learn(Self.corpus, options: BPEOptions(merges: 200)), cacheLimit: 50)
        let expected = Self.corpus.map { BPETokenizer(model: tok.model).encode($0) }
        let results = ResultsBox(count: Self.corpus.count)
        DispatchQueue.concurrentPerform(iterations: Self.corpus.count) { i in results.set(i, tok.encode(Self.corpus[i])) }
        XCTAssertEqual(results.values, expected)
    }
}

final class ResultsBox: @unchecked Sendable {
    private(set) var values: [[Int]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Int]) { lock.lock(); values[i] = v; lock.unlock() }
}

final class SubwordNFCTests: XCTestCase {
    /// The quick NFC check agrees with Foundation on every scalar it lets through.
    func testQuickCheckAgreesWithFoundation() {
        var checked = 0
        for v in Array(0..<0x3000) + [0x20AC, 0x1F600, 0x10FFFF] {
            guard let s = Unicode.Scalar(v) else { continue }
            for text in [String(s), "e" + String(s), "a\u{301}" + String(s), String(s) + "\u{301}"] where SubwordPreTokenizer.isNFC(text) {
                XCTAssertEqual(text.precomposedStringWithCanonicalMapping.unicodeScalars.map(\.value),
                               text.unicodeScalars.map(\.value), "U+\(String(v, radix: 16))")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 700)
        XCTAssertFalse(SubwordPreTokenizer.isNFC("e\u{301}"))
        XCTAssertTrue(SubwordPreTokenizer.isNFC("¿Qué año, “señor”…? 3,5 €"))
    }
}
