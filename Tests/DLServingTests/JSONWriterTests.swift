import DLServing
import DLTasks
import Foundation
import XCTest

/// The hand-written JSON of the hot responses must be what `JSONEncoder`
/// (the encoder the other routes use) writes, byte for byte.
final class JSONWriterTests: XCTestCase {
    /// Same document as `JSONEncoder`'s: the same keys and values, and every
    /// number and string spelled the same (compared member by member, since
    /// `JSONEncoder`'s key order follows a dictionary's hash order).
    private func assertSameAsJSONEncoder(_ value: some JSONWritable & Encodable, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try JSONEncoder().encode(value)
        let written = JSONWriter.encode(value)
        let a = try JSONSerialization.jsonObject(with: Data(written)) as! NSObject
        let b = try JSONSerialization.jsonObject(with: expected) as! NSObject
        XCTAssertEqual(a, b, file: file, line: line)
        // Spelling: every scalar token of one appears as often in the other.
        func tokens(_ bytes: [UInt8]) -> [String] {
            let text = String(decoding: bytes, as: UTF8.self)
            let pattern = try! NSRegularExpression(pattern: #""(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null"#)
            return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) }.sorted()
        }
        XCTAssertEqual(tokens(written), tokens(Array(expected)), file: file, line: line)
    }

    func testClassificationResponseMatchesJSONEncoder() throws {
        let labels = ["T-shirt/top", "say \"hi\"", "back\\slash", "tab\there\nnew", "\u{01}\u{1f}", "Ünïcödé 日本 🙂", ""]
        let probabilities: [Float] = [1, 0, 0.1, 1e-05, 3.4028235e38, 1.17549435e-38, 0.46870017]
        let predictions = zip(labels, probabilities).enumerated().map { i, lp in
            Classification.Prediction(label: lp.0, index: i * 37, probability: lp.1)
        }
        for (timing, id) in [
            (Classification.Timing(queueMs: 0, inferenceMs: 5000.403507999999, totalMs: 0.1 + 0.2), "1cea94fa-24dd-4f9f-9072-dd4612c0a5e1"),
            (Classification.Timing(queueMs: 1e-7, inferenceMs: 123456789.5, totalMs: 2), nil),
        ] {
            let response = Classification.Response(model: "fashion/mnist", version: 12, predictions: predictions, batchSize: 32,
                                                    timing: timing, requestID: id)
            try assertSameAsJSONEncoder(response)
        }
        let empty = Classification.Response(model: "m", version: 1, predictions: [], batchSize: 1,
                                            timing: .init(queueMs: 0, inferenceMs: 0, totalMs: 0), requestID: nil)
        try assertSameAsJSONEncoder(empty)
    }

    func testSentimentResponseMatchesJSONEncoder() throws {
        let json = #"{"model":"sentiment-rt","version":3,"results":[{"label":"positive","probabilities":{"negative":0.04,"positive":0.96,"n/a \"x\"":1e-07},"tokens":8,"unknown_words":0},{"label":"negative","probabilities":{"negative":1,"positive":0},"tokens":0,"unknown_words":12}]}"#
        let response = try JSONDecoder().decode(Sentiment.Response.self, from: Data(json.utf8))
        try assertSameAsJSONEncoder(response)
        let written = String(decoding: JSONWriter.encode(response), as: UTF8.self)
        XCTAssertTrue(written.contains(#""probabilities":{"n\/a \"x\"":1e-07,"negative":0.04,"positive":0.96}"#), written)
    }

    func testNegativeNumbersAndNonFiniteFloats() {
        var w = JSONWriter()
        w.beginArray()
        w.int(-7); w.int(0); w.int(1234567); w.float(-2.5); w.double(-0.0); w.float(.nan); w.double(.infinity); w.bool(true); w.null()
        w.endArray()
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "[-7,0,1234567,-2.5,-0,null,null,true,null]")
    }
}
