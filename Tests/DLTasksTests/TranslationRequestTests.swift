import DLServeTesting
import DLServing
import DLTasks
import Foundation
import XCTest

/// Every request the translate task refuses (400, the problem named), and
/// the SVG picture of an alignment.
final class TranslationRequestTests: XCTestCase {
    func decode(_ json: String, format: String? = nil) throws -> Translation.Request {
        try Translation.decode(TaskBody(bytes: Array(json.utf8), responseFormat: format))
    }

    /// The message of the `invalidInput` (or other 400) that decoding `json` throws.
    func refusal(_ json: String, format: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try decode(json, format: format)
            XCTFail("accepted \(json)", file: file, line: line)
        } catch let e as ServingError {
            XCTAssertEqual(e.httpStatus, 400, "\(e)", file: file, line: line)
            return e.message
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return ""
    }

    func testDefaultsAndOptions() throws {
        let r = try decode(#"{"text": "hello"}"#)
        XCTAssertEqual(r.texts, ["hello"])
        XCTAssertFalse(r.isList)
        XCTAssertEqual(r.beamWidth, 4)
        XCTAssertEqual(r.lengthPenalty, 0.7)
        XCTAssertEqual(r.nBest, 1)
        XCTAssertNil(r.maxLength)
        XCTAssertNil(r.references)
        XCTAssertFalse(r.returnAttention)
        let all = try decode(#"{"texts": ["a", "b"], "beam_width": 6, "n_best": 6, "length_penalty": 1, "max_length": 20, "reference": ["x", "y"], "return_attention": true}"#)
        XCTAssertEqual(all.beamWidth, 6)
        XCTAssertEqual(all.nBest, 6)
        XCTAssertEqual(all.maxLength, 20)
        XCTAssertEqual(all.references, ["x", "y"])
        XCTAssertTrue(all.returnAttention)
        let svg = try decode(#"{"texts": ["one"]}"#, format: "svg")
        XCTAssertTrue(svg.svg && svg.returnAttention)
    }

    func testRefusesMalformedRequests() {
        XCTAssertTrue(refusal(#"{"text": "a", "beam": 3}"#).contains("unknown field 'beam'"))
        XCTAssertTrue(refusal(#"{"text": 5}"#).contains("'text' must be a string"))
        XCTAssertTrue(refusal(#"{"texts": "a"}"#).contains("'texts' must be a list of strings"))
        XCTAssertTrue(refusal(#"{"texts": ["a", 3]}"#).contains("'texts' must be a list of strings"))
        XCTAssertTrue(refusal(#"{"text": "a", "texts": ["b"]}"#).contains("not both"))
        XCTAssertTrue(refusal(#"{}"#).contains("needs 'text'"))
        XCTAssertTrue(refusal(#"["a"]"#).contains("JSON object"))
        XCTAssertTrue(refusal(#"{"text": "a", "beam_width": 0}"#).contains("'beam_width' must be an integer in 1...16"))
        XCTAssertTrue(refusal(#"{"text": "a", "beam_width": 17}"#).contains("'beam_width' must be an integer in 1...16"))
        XCTAssertTrue(refusal(#"{"text": "a", "beam_width": "4"}"#).contains("'beam_width'"))
        XCTAssertTrue(refusal(#"{"text": "a", "beam_width": 2.5}"#).contains("'beam_width'"))
        XCTAssertTrue(refusal(#"{"text": "a", "n_best": 0}"#).contains("'n_best' must be an integer"))
        XCTAssertTrue(refusal(#"{"text": "a", "beam_width": 2, "n_best": 3}"#).contains("'n_best' (3) must not exceed 'beam_width' (2)"))
        XCTAssertTrue(refusal(#"{"text": "a", "max_length": 0}"#).contains("'max_length' must be an integer in 1...256"))
        XCTAssertTrue(refusal(#"{"text": "a", "max_length": 257}"#).contains("'max_length'"))
        XCTAssertTrue(refusal(#"{"text": "a", "length_penalty": -0.1}"#).contains("'length_penalty' must be a number in 0...2"))
        XCTAssertTrue(refusal(#"{"text": "a", "length_penalty": "high"}"#).contains("'length_penalty'"))
        XCTAssertTrue(refusal(#"{"text": "a", "return_attention": "yes"}"#).contains("'return_attention' must be true or false"))
        XCTAssertTrue(refusal(#"{"text": "a", "reference": ["x"]}"#).contains("with 'text', 'reference' must be a string"))
        XCTAssertTrue(refusal(#"{"texts": ["a", "b"], "reference": "x"}"#).contains("'reference' must be a list"))
        XCTAssertTrue(refusal(#"{"texts": ["a", "b"], "reference": ["x"]}"#).contains("'reference' has 1 strings for 2 texts"))
        XCTAssertTrue(refusal(#"{"texts": ["a", "b"]}"#, format: "svg").contains("an SVG answer shows one sentence; got 2 texts"))
    }

    /// Invalid UTF-8 in the body is a 400 (invalid_json), not a crash or a guess.
    func testRefusesInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"text": "caf"#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        XCTAssertThrowsError(try Translation.decode(TaskBody(bytes: bytes))) { error in
            XCTAssertEqual((error as? ServingError)?.httpStatus, 400, "\(error)")
        }
    }

    /// The picture: well-formed XML, every token as escaped text, one square
    /// per (target, source) pair.
    func testSVGIsWellFormedAndHoldsTheTokens() throws {
        let attention = Translation.Attention(sourceTokens: ["▁the", "▁cat", "<eos>"], targetTokens: ["▁el", "▁\"g&a\"", "<eos>"],
                                              weights: [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0, 0, 1]])
        let response = Translation.Response(model: "mt", version: 1, results: [Translation.Result(
            translation: "el <gato>", score: -1, logProbability: -2, tokens: 2, truncated: false, attention: attention)])
        let svg = try response.rendered(as: "svg")
        let parsed = SVGDocument(Data(svg))
        XCTAssertTrue(parsed.ok, parsed.error ?? "")
        XCTAssertEqual(parsed.elements["svg"], 1)
        XCTAssertEqual(parsed.elements["rect"], 9)
        for token in attention.sourceTokens + attention.targetTokens { XCTAssertTrue(parsed.texts.contains(token), token) }
        XCTAssertTrue(parsed.texts.contains("el <gato>"))
        // Several texts, or no attention: no picture.
        var two = response
        two.results.append(two.results[0])
        XCTAssertThrowsError(try two.rendered(as: "svg"))
    }
}

