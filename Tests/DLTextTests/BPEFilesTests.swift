import DLText
import Foundation
import XCTest

final class BPEFilesTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func model(byteFallback: Bool = true) -> BPEModel {
        BPELearner.learn(SubwordCorpus.sentences(count: 200, seed: 5), options: BPEOptions(merges: 150, byteFallback: byteFallback))
    }

    func testRoundTripBothModes() throws {
        for fallback in [true, false] {
            let m = model(byteFallback: fallback)
            try m.write(to: dir, name: "bpe")
            XCTAssertEqual(try BPEModel.load(from: dir, name: "bpe"), m)
            // The vocabulary file reads as a plain Vocabulary too.
            XCTAssertEqual(try Vocabulary.load(dir.appendingPathComponent("bpe.vocab.txt")), m.vocabulary)
        }
        // No temporary files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["bpe.merges.txt", "bpe.vocab.txt"])
        let merges = try String(contentsOf: dir.appendingPathComponent("bpe.merges.txt"), encoding: .utf8)
        XCTAssertTrue(merges.hasPrefix("#dlserve-bpe version=1 unknown=unk\n"))
    }

    func testTranslationSubwordsSharedAndSeparate() throws {
        let pairs = [("Where is the house?", "¿Dónde está la casa?"), ("The boy sings.", "¡El niño canta!")]
        let shared = TranslationSubwords.learn(pairs.map { (source: $0.0, target: $0.1) }, shared: true,
                                               options: BPEOptions(merges: 20, minFrequency: 1))
        XCTAssertTrue(shared.shared)
        try shared.write(to: dir)
        let loaded = try TranslationSubwords.load(from: dir)
        XCTAssertTrue(loaded.shared)
        XCTAssertEqual(loaded.source.model, shared.source.model)
        XCTAssertEqual(loaded.decodeTarget(loaded.encodeTarget("¿Dónde está la casa?")), "¿Dónde está la casa?")

        let dir2 = dir.appendingPathComponent("separate")
        try FileManager.default.createDirectory(at: dir2, withIntermediateDirectories: true)
        let separate = TranslationSubwords.learn(pairs.map { (source: $0.0, target: $0.1) }, shared: false,
                                                 options: BPEOptions(merges: 20, minFrequency: 1))
        XCTAssertFalse(separate.shared)
        try separate.write(to: dir2)
        let loaded2 = try TranslationSubwords.load(from: dir2)
        XCTAssertEqual(loaded2.source.model, separate.source.model)
        XCTAssertEqual(loaded2.target.model, separate.target.model)
        XCTAssertNotEqual(loaded2.source.model, loaded2.target.model)
        let src = loaded2.encodeSource("Where is the boy?")
        XCTAssertEqual(src.last, BPEModel.endID)
        XCTAssertEqual(loaded2.source.decode(src), "Where is the boy?")
        // Generation stops at <eos>; stray spaces are tidied.
        let t = loaded2.target
        XCTAssertEqual(loaded2.decodeTarget([BPEModel.beginningID] + t.encode("¡ El niño canta !") + [BPEModel.endID] + t.encode("casa")),
                       "¡El niño canta!")
    }

    /// Writes the model, applies `edit` to one file's lines, and checks the error.
    func assertCorrupt(_ file: String, _ expected: String, byteFallback: Bool = false,
                       _ edit: (inout [String]) -> Void, line: UInt = #line) throws {
        try model(byteFallback: byteFallback).write(to: dir, name: "bpe")
        let url = dir.appendingPathComponent(file)
        var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        lines.removeLast()
        edit(&lines)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        XCTAssertThrowsError(try BPEModel.load(from: dir, name: "bpe"), line: line) { error in
            XCTAssertEqual("\(error)", expected, line: line)
        }
    }

    func testCorruptFilesNameFileAndLine() throws {
        try assertCorrupt("bpe.merges.txt", "bpe.merges.txt:1: expected the header '#dlserve-bpe version=1 unknown=bytes' (or unknown=unk)") {
            $0.removeFirst()
        }
        try assertCorrupt("bpe.merges.txt", "bpe.merges.txt:1: unknown= must be bytes or unk") { $0[0] = "#dlserve-bpe version=1 unknown=maybe" }
        try assertCorrupt("bpe.merges.txt", "bpe.merges.txt:4: expected two tokens separated by one space, got 'ab'") { $0[3] = "ab" }
        try assertCorrupt("bpe.merges.txt", "bpe.merges.txt:3: 'zzz' is not in the alphabet nor made by an earlier merge") {
            $0[2] = "zzz " + $0[2].split(separator: " ")[1]
        }
        try assertCorrupt("bpe.merges.txt", "bpe.merges.txt:2: the right part '▁' starts with '▁'") { $0[1] = "a ▁" }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt:3: expected <bos> (ids 0-3 are <pad> <unk> <bos> <eos>)") { $0.remove(at: 2) }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt:5: expected <0x00> (byte fallback)", byteFallback: true) { $0[4] = "<0x0>" }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt: the alphabet lacks the word marker '▁'") { $0.remove(at: 4) }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt:7: 'qq' is neither one character nor made by a merge") { $0.insert("qq", at: 6) }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt:7: 'a' appears twice (lines 6 and 7)") { $0[5] = "a"; $0.insert("a", at: 6) }
        try assertCorrupt("bpe.vocab.txt", "bpe.vocab.txt:6: token 'a b' holds whitespace") { $0[5] = "a b" }
    }

    func testUnreadableTruncatedAndMissingFiles() throws {
        try model().write(to: dir, name: "bpe")
        let vocab = dir.appendingPathComponent("bpe.vocab.txt")
        let text = try Data(contentsOf: vocab)
        try text.dropLast(3).write(to: vocab)
        XCTAssertThrowsError(try BPEModel.load(from: dir, name: "bpe")) { XCTAssertTrue("\($0)".contains("the last line has no newline")) }
        try (Data([0x3C, 0xFF, 0x0A]) + text).write(to: vocab)
        XCTAssertThrowsError(try BPEModel.load(from: dir, name: "bpe")) { XCTAssertEqual("\($0)", "bpe.vocab.txt: not valid UTF-8") }
        try Data("<pad>\r\n<unk>\n".utf8).write(to: vocab)
        XCTAssertThrowsError(try BPEModel.load(from: dir, name: "bpe")) { XCTAssertTrue("\($0)".hasPrefix("bpe.vocab.txt:1: carriage return")) }
        XCTAssertThrowsError(try BPEModel.load(from: dir, name: "other")) { XCTAssertTrue("\($0)".hasPrefix("other.vocab.txt: cannot read")) }
    }
}
