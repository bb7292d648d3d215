import DLTrain
import DLVision
import Foundation
import XCTest

final class DetectionDataTests: XCTestCase {
    static let fixture = Bundle.module.url(forResource: "split", withExtension: "json", subdirectory: "Fixtures/detection")!

    func testLoadsImagesAndBoxes() throws {
        let split = try DetectionSplit.load(Self.fixture)
        XCTAssertEqual(split.classes, ["T-shirt/top", "Trouser", "Pullover"])
        XCTAssertEqual(split.files, ["a.png", "b.jpg"])
        XCTAssertEqual(split.scenes.map { $0.image.width }, [28, 28])
        XCTAssertEqual(split.scenes[1].objects, [Detection(box: Box(x1: 1, y1: 1, x2: 10, y2: 12), label: 0),
                                                 Detection(box: Box(x1: 8, y1: 0, x2: 28, y2: 28), label: 1)])
        XCTAssertEqual(try DetectionSplit.load(Self.fixture, limit: 1).scenes.count, 1)
    }

    /// A copy of the fixture with its JSON replaced, loaded: the error message.
    func error(_ json: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("detsplit-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = Self.fixture.deletingLastPathComponent()
        for f in ["a.png", "b.jpg"] { try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f)) }
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("bad.png"))
        let url = dir.appendingPathComponent("split.json")
        try Data(json.utf8).write(to: url)
        do { _ = try DetectionSplit.load(url); return "" } catch let e as TrainingError { return e.description }
    }

    func testBadSplitsNameTheProblem() throws {
        func entry(_ file: String = "a.png", w: Int = 28, objects: String = "[]") -> String {
            #"{"classes": ["a", "b"], "images": [{"file": "\#(file)", "width": \#(w), "height": 28, "objects": \#(objects)}]}"#
        }
        XCTAssertThrowsError(try DetectionSplit.load(URL(fileURLWithPath: "/nonexistent/split.json"))) {
            XCTAssertTrue("\($0)".contains("/nonexistent/split.json: no such file"), "\($0)")
        }
        XCTAssertTrue(try error("[1, 2]").contains("not a detection split"))
        XCTAssertTrue(try error(#"{"classes": [], "images": []}"#).contains("no classes"))
        XCTAssertTrue(try error(#"{"classes": ["a"], "images": []}"#).contains("no images"))
        XCTAssertTrue(try error(entry("missing.png")).contains("missing.png"))
        XCTAssertTrue(try error(entry("bad.png")).contains("bad.png"))
        XCTAssertTrue(try error(entry(w: 30)).contains("the file is 28x28, the entry says 30x28"))
        XCTAssertTrue(try error(entry(objects: #"[{"label": 2, "box": [0, 0, 5, 5]}]"#)).contains("label 2 is not in 0..<2"))
        XCTAssertTrue(try error(entry(objects: #"[{"label": 1, "box": [0, 0, 5]}]"#)).contains("[x1, y1, x2, y2]"))
        XCTAssertTrue(try error(entry(objects: #"[{"label": 1, "box": [20, 0, 29, 5]}]"#)).contains("outside the 28x28 image"))
        XCTAssertTrue(try error(entry(objects: #"[{"label": 1, "box": [5, 5, 5, 9]}]"#)).contains("empty"))
    }
}
