@testable import dlserve
import DLJobsTesting
import DLNN
import DLTrain
import DLVision
import XCTest

/// `dlserve predict` and `dlserve eval` with a detection model: a tiny
/// detector trained on the toy split, in a temporary repository; the
/// command line's answers equal the library's.
final class DetectionCommandTests: XCTestCase {
    var root: URL!
    var models: URL { root.appendingPathComponent("models") }
    var split: URL { root.appendingPathComponent("data/toy-det/split.json") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("det-cli-\(UUID().uuidString)")
        try ToyDetectionData.write(to: split.deletingLastPathComponent(), count: 8)
        let recipe = try DetectionRecipe.parse(ToyDetectionData.recipe(name: "toy-det", data: ["dir": split.deletingLastPathComponent().path,
                                                                                               "train": "split.json", "dev_images": 2], epochs: 2))
        try recipe.run(base: root, repository: ModelRepository(root: models))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    func testPredictPrintsBoxesAndDrawsThem() throws {
        let loaded = try ModelRepository(root: models).load("toy-det", version: 1)
        let image = split.deletingLastPathComponent().appendingPathComponent("images/000.png")
        let out = root.appendingPathComponent("boxes.png")
        let options = try DetectionPredictOptions.parse(["--score-threshold", "0.01", "--max-detections", "5", "--output", out.path])
        let lines = try options.lines(loaded, files: [image.path])
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual([lines[0].width, lines[0].height], [32, 32])
        let grid = try JSONDecoder().decode(YOLOGrid.self, from: Data(contentsOf: loaded.directory.appendingPathComponent("detection.json")))
        let expected = Detector(grid: grid, model: loaded.model).detect([try ImageDecoder().decode(Data(contentsOf: image))],
                                                                      filter: .init(scoreThreshold: 0.01, iouThreshold: 0.45, maxDetections: 5))[0]
        XCTAssertEqual(lines[0].detections.count, expected.count)
        XCTAssertLessThanOrEqual(expected.count, 5)
        for (l, d) in zip(lines[0].detections, expected) {
            XCTAssertEqual(l.label, ToyDetectionData.classes[d.label])
            XCTAssertEqual(l.score, d.score, accuracy: 1e-4)
            XCTAssertEqual(l.box[0], d.box.x1, accuracy: 0.01)
        }
        let drawn = try ImageDecoder().decode(Data(contentsOf: out))
        XCTAssertEqual([drawn.width, drawn.height, drawn.channels], [32, 32, 3])
        // --output takes one image; thresholds are checked.
        XCTAssertThrowsError(try options.lines(loaded, files: [image.path, image.path])) { XCTAssertTrue("\($0)".contains("one image")) }
        XCTAssertThrowsError(try DetectionPredictOptions.parse(["--iou-threshold", "1.5"]))
        XCTAssertThrowsError(try DetectionPredictOptions.parse(["--max-detections", "0"]))
    }

    func testEvalPrintsTheBenchmarksMAP() throws {
        let loaded = try ModelRepository(root: models).load("toy-det", version: 1)
        let output = try DetectionEval.measure(loaded, dataset: DatasetReference(name: "toy-det", split: .test), file: split.path,
                                               limit: nil, dataRoot: root)
        XCTAssertEqual(output.images, 8)
        let scenes = try DetectionSplit.load(split).scenes
        XCTAssertEqual(output.objects, scenes.reduce(0) { $0 + $1.objects.count })
        let grid = try JSONDecoder().decode(YOLOGrid.self, from: Data(contentsOf: loaded.directory.appendingPathComponent("detection.json")))
        let bench = Detector(grid: grid, model: loaded.model).benchmark(scenes)
        XCTAssertEqual(output.map50, bench.vocMeanAveragePrecision().mean, accuracy: 1e-12)
        XCTAssertEqual(output.cocoMAP, bench.coco().map, accuracy: 1e-12)
        // The dataset by name under the data root (DATA/NAME/SPLIT.json), and through the command.
        try FileManager.default.copyItem(at: split, to: split.deletingLastPathComponent().appendingPathComponent("test.json"))
        let byName = try DetectionEval.measure(loaded, dataset: DatasetReference(name: "toy-det", split: .test), file: nil, limit: 3,
                                               dataRoot: root.appendingPathComponent("data"))
        XCTAssertEqual(byName.images, 3)
        XCTAssertThrowsError(try DetectionEval.measure(loaded, dataset: DatasetReference(name: "nope", split: .test), file: nil, limit: nil,
                                                       dataRoot: root)) { XCTAssertTrue("\($0)".contains("nope"), "\($0)") }
        var eval = try DLServeCommand.parseAsRoot(["eval", "--model", loaded.directory.deletingLastPathComponent().path, "--data", split.path])
        XCTAssertNoThrow(try eval.run())
    }
}
