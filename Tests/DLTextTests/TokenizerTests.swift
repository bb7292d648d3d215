import DLText
import Foundation
import XCTest

final class TokenizerTests: XCTestCase {
    func testWordsPunctuationAndClitics() {
        let t = Tokenizer()
        XCTAssertEqual(t.tokenize("It's a charming, often affecting journey."),
                       ["it", "'s", "a", "charming", ",", "often", "affecting", "journey", "."])
        XCTAssertEqual(t.tokenize("I don't like it -- at ALL!"), ["i", "do", "n't", "like", "it", "-", "-", "at", "all", "!"])
        XCTAssertEqual(t.tokenize("a well-made film about the u.s. army"), ["a", "well-made", "film", "about", "the", "u.s", ".", "army"])
        XCTAssertEqual(t.tokenize("They’re great"), ["they", "'re", "great"])
        XCTAssertEqual(t.tokenize("Café  crème\tbrûlée\n"), ["café", "crème", "brûlée"])
        XCTAssertEqual(t.tokenize("   "), [])
        XCTAssertEqual(Tokenizer(lowercase: false).tokenize("The Rock"), ["The", "Rock"])
    }

    func testVocabularyBuildEncodeAndFile() throws {
        let texts = [["b", "a", "b"], ["c", "b", "a"]]
        let v = Vocabulary.build(from: texts)
        // Reserved ids first, then by count (b: 3, a: 2, c: 1).
        XCTAssertEqual(v.words, ["<pad>", "<unk>", "b", "a", "c"])
        XCTAssertEqual(v.encode(["a", "zzz", "c"]).ids, [3, 1, 4])
        XCTAssertEqual(v.encode(["a", "zzz", "c"]).unknown, 1)
        XCTAssertEqual(Vocabulary.build(from: texts, minCount: 2).words, ["<pad>", "<unk>", "b", "a"])
        XCTAssertEqual(Vocabulary.build(from: texts, maxSize: 3).words, ["<pad>", "<unk>", "b"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID()).txt")
        try Data(v.fileContents.utf8).write(to: url)
        XCTAssertEqual(try Vocabulary.load(url), v)
        XCTAssertThrowsError(try Vocabulary(words: ["a", "b"]))
        XCTAssertThrowsError(try Vocabulary(words: ["<pad>", "<unk>", "x", "x"]))
        try Data("<pad>\n<unk>\n\n".utf8).write(to: url)
        XCTAssertThrowsError(try Vocabulary.load(url))
    }

    func testLabelledTextFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lt-\(UUID()).tsv")
        try Data("positive\tGood film.\nnegative\tBad\tfilm\n".utf8).write(to: url)
        let lt = try LabelledText.load(url)
        XCTAssertEqual(lt.labels, ["positive", "negative"])
        XCTAssertEqual(lt.texts, ["Good film.", "Bad\tfilm"])
        try Data("no tab here\n".utf8).write(to: url)
        XCTAssertThrowsError(try LabelledText.load(url))
        try Data([0x70, 0x09, 0xff, 0xfe]).write(to: url)
        XCTAssertThrowsError(try LabelledText.load(url))
    }
}
