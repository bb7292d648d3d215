import Foundation
import XCTest

@testable import DLNN

/// config.json: defaults, snake_case round trip, and a message naming the field
/// for every kind of mistake.
final class ModelConfigTests: XCTestCase {
    var root: URL!
    var repo: ModelRepository!

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory(self)
        repo = ModelRepository(root: root)
    }

    func write(_ json: String, name: String = "pets") throws {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
    }

    func assertBadConfig(_ json: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try write(json)
        XCTAssertThrowsError(try repo.config(of: "pets"), json, file: file, line: line) { e in
            XCTAssertEqual(e as? RepositoryError, .badConfig(model: "pets", message: message), json, file: file, line: line)
        }
    }

    /// A valid config.json with the given JSON fragments for labels, input and serving, plus extra members.
    func config(input: String = #"{"shape": [1, 28, 28]}"#, serving: String = "{}", labels: String = #"["a", "b"]"#,
                extra: String = "") -> String {
        #"{"name": "pets", "task": "classification", "labels": \#(labels), "input": \#(input), "serving": \#(serving)\#(extra)}"#
    }

    func testMinimalConfigGetsTheDefaults() throws {
        try write(#"{"name": "pets", "task": "classification", "labels": ["a", "b"], "input": {"shape": [1, 28, 28]}}"#)
        let c = try repo.config(of: "pets")
        XCTAssertEqual(c.input.color, .grayscale)
        XCTAssertEqual(c.input.preprocessing, .init(scale: 1.0 / 255, mean: [0], std: [1], resize: .auto, invert: false))
        XCTAssertEqual(c.serving, .init(maxBatchSize: 32, maxQueueDelayMs: 0, queueCapacity: 256, timeoutMs: 5000, versionPolicy: .latest))
    }

    func testRoundTripUsesSnakeCaseKeys() throws {
        let c = ModelConfig(name: "pets", labels: ["a", "b", "c"],
                            input: .init(shape: [3, 32, 32], color: .rgb,
                                         preprocessing: .init(scale: 0.5, mean: [0.1, 0.2, 0.3], std: [1, 2, 3], resize: .bilinear, invert: true)),
                            serving: .init(maxBatchSize: 8, maxQueueDelayMs: 0.5, queueCapacity: 10, timeoutMs: 100, versionPolicy: .specific([2, 3])))
        try repo.writeConfig(c)
        XCTAssertEqual(try repo.config(of: "pets"), c)
        let text = try String(contentsOf: root.appendingPathComponent("pets/config.json"), encoding: .utf8)
        for key in ["\"max_batch_size\" : 8", "\"max_queue_delay_ms\" : 0.5", "\"queue_capacity\" : 10", "\"timeout_ms\" : 100",
                    "\"version_policy\" : {\n      \"specific\" : [\n        2,\n        3\n      ]", "\"resize\" : \"bilinear\"", "\"color\" : \"rgb\""] {
            XCTAssertTrue(text.contains(key), "config.json lacks \(key):\n\(text)")
        }
        for policy in [VersionPolicy.latest, .all] {
            var d = c
            d.serving.versionPolicy = policy
            try repo.writeConfig(d)
            XCTAssertEqual(try repo.config(of: "pets").serving.versionPolicy, policy)
        }
    }

    func testMissingAndMalformedFiles() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("pets"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try repo.config(of: "pets")) {
            XCTAssertEqual($0 as? RepositoryError, .badConfig(model: "pets", message: "config.json is missing"))
        }
        XCTAssertThrowsError(try repo.config(of: "cats")) { XCTAssertEqual($0 as? RepositoryError, .unknownModel("cats")) }
        try write("{\"name\": ")
        XCTAssertThrowsError(try repo.config(of: "pets")) { e in
            guard case .badConfig("pets", let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasPrefix("not valid JSON"), m)
        }
    }

    func testFieldErrors() throws {
        let cases: [(String, String)] = [
            (#"{"task": "classification", "labels": ["a"], "input": {"shape": [1, 2, 2]}}"#, "missing field 'name'"),
            (#"{"name": "pets", "labels": ["a"], "input": {"shape": [1, 2, 2]}}"#, "missing field 'task'"),
            (#"{"name": "pets", "task": "classification", "labels": ["a"]}"#, "missing field 'input'"),
            (config(input: "{}"), "missing field 'input.shape'"),
            (config(labels: "\"a\""), "field 'labels' must be a list"),
            (config(input: #"{"shape": [1, "28", 28]}"#), "field 'input.shape[1]' must be an integer"),
            (config(extra: #", "lables": []"#), "field 'lables': unknown field (known: name, task, labels, input, serving)"),
            (config(serving: #"{"max_batchsize": 4}"#),
             "field 'serving.max_batchsize': unknown field (known: max_batch_size, max_queue_delay_ms, queue_capacity, timeout_ms, version_policy)"),
            (config(input: #"{"shape": [1, 28, 28], "preprocessing": {"mean": [0], "sdt": [1]}}"#),
             "field 'input.preprocessing.sdt': unknown field (known: scale, mean, std, resize, invert)"),
            (config(serving: #"{"version_policy": "newest"}"#),
             #"field 'serving.version_policy': must be "latest", "all" or {"specific": [versions]}, not "newest""#),
            (config(serving: #"{"version_policy": {"specific": [1], "latest": 2}}"#),
             "field 'serving.version_policy.latest': unknown field (known: specific)"),
            (config(serving: #"{"version_policy": {"specific": []}}"#), "field 'serving.version_policy.specific' must list at least one version"),
            (config(serving: #"{"version_policy": {"specific": [0]}}"#), "field 'serving.version_policy.specific' versions must be at least 1 (got [0])"),
            (config(serving: #"{"max_batch_size": 0}"#), "field 'serving.max_batch_size' must be between 1 and 65536 (got 0)"),
            (config(serving: #"{"max_queue_delay_ms": -1}"#), "field 'serving.max_queue_delay_ms' must be between 0 and 60000 (got -1.0)"),
            (config(serving: #"{"queue_capacity": 0}"#), "field 'serving.queue_capacity' must be at least 1 (got 0)"),
            (config(serving: #"{"timeout_ms": 0}"#), "field 'serving.timeout_ms' must be at least 1 (got 0)"),
            (config(labels: "[]"), "field 'labels' must list the class names"),
            (config(labels: #"["a", "b", "a"]"#), "field 'labels[2]' 'a' appears twice"),
            (config(labels: #"["a", ""]"#), "field 'labels[1]' is empty"),
            (config(input: #"{"shape": [1, 28]}"#), "field 'input.shape' must be [channels, height, width] (got [1, 28])"),
            (config(input: #"{"shape": [1, 0, 28]}"#), "field 'input.shape' must be positive dimensions (got [1, 0, 28])"),
            (config(input: #"{"shape": [3, 28, 28]}"#), "field 'input.shape' has 3 channels but input.color 'grayscale' has 1"),
            (config(input: #"{"shape": [1, 28, 28], "color": "rgb"}"#), "field 'input.shape' has 1 channels but input.color 'rgb' has 3"),
            (config(input: #"{"shape": [1, 28, 28], "preprocessing": {"mean": [0.1, 0.2]}}"#),
             "field 'input.preprocessing.mean' must have 1 value (got 2)"),
            (config(input: #"{"shape": [3, 8, 8], "color": "rgb", "preprocessing": {"std": [1, 2]}}"#),
             "field 'input.preprocessing.std' must have 1 or 3 values (got 2)"),
            (config(input: #"{"shape": [3, 8, 8], "color": "rgb", "preprocessing": {"std": [1, 0, 1]}}"#),
             "field 'input.preprocessing.std' must be positive"),
            (config(input: #"{"shape": [1, 28, 28], "preprocessing": {"scale": 0}}"#),
             "field 'input.preprocessing.scale' must be a finite non-zero number"),
            (config().replacingOccurrences(of: #""name": "pets""#, with: #""name": "dogs""#), "field 'name' is 'dogs' but the directory is 'pets'"),
        ]
        for (json, message) in cases { try assertBadConfig(json, message) }
    }

    func testUnknownEnumValuesNameTheField() throws {
        for (json, field) in [(config(extra: "").replacingOccurrences(of: "classification", with: "segmentation"), "task"),
                              (config(input: #"{"shape": [1, 2, 2], "color": "cmyk"}"#), "input.color"),
                              (config(input: #"{"shape": [1, 2, 2], "preprocessing": {"resize": "lanczos"}}"#), "input.preprocessing.resize")] {
            try write(json)
            XCTAssertThrowsError(try repo.config(of: "pets")) { e in
                guard case .badConfig("pets", let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
                XCTAssertTrue(m.hasPrefix("field '\(field)': "), m)
            }
        }
    }

    func testWriteConfigValidatesFirst() throws {
        var c = ModelConfig(name: "pets", labels: [], input: .init(shape: [1, 2, 2]))
        XCTAssertThrowsError(try repo.writeConfig(c)) {
            XCTAssertEqual($0 as? RepositoryError, .badConfig(model: "pets", message: "field 'labels' must list the class names"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("pets").path))
        c.name = "../x"
        c.labels = ["a"]
        XCTAssertThrowsError(try repo.writeConfig(c)) { e in
            guard case .badConfig("../x", let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasPrefix("field 'name' '../x' must use letters"), m)
        }
    }

    /// Text models take token ids of a variable length and name their vocabulary;
    /// a sentiment model without `input.text` is refused, naming the field.
    func testTextTasksNeedNoImageInput() throws {
        let c = ModelConfig(name: "reviews", task: .sentiment, labels: ["neg", "pos"],
                            input: .init(shape: [-1], text: .init(vocabulary: "vocab.txt", maxLength: 200)))
        try repo.writeConfig(c)
        XCTAssertEqual(try repo.config(of: "reviews"), c)
        let bare = ModelConfig(name: "reviews", task: .sentiment, labels: ["neg", "pos"], input: .init(shape: [200]))
        XCTAssertThrowsError(try repo.writeConfig(bare)) { XCTAssertTrue("\($0)".contains("input.text"), "\($0)") }
        var badLength = c
        badLength.input.text!.maxLength = 0
        XCTAssertThrowsError(try repo.writeConfig(badLength)) { XCTAssertTrue("\($0)".contains("max_length"), "\($0)") }
        var badFile = c
        badFile.input.text!.vocabulary = "../vocab.txt"
        XCTAssertThrowsError(try repo.writeConfig(badFile)) { XCTAssertTrue("\($0)".contains("input.text.vocabulary"), "\($0)") }
    }
}
