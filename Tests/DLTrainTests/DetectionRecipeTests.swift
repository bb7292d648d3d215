import DLNN
import DLTrain
import DLVision
import Foundation
import XCTest

final class DetectionRecipeTests: XCTestCase {
    static let split = Bundle.module.url(forResource: "split", withExtension: "json", subdirectory: "Fixtures/detection")!

    func recipe(_ extra: String = "", input: Int = 32, stride: Int = 8, anchors: Int = 2, head: String = "\"$head_channels\"") -> String {
        #"""
        {"name": "det", "task": "detection",
         "data": {"dir": "\#(Self.split.deletingLastPathComponent().path)", "train": "split.json", "dev_images": 1},
         "input": {"width": \#(input), "height": \#(input)}, "head": {"stride": \#(stride), "anchors": \#(anchors)},
         "model": {"inputs": [{"name": "image", "shape": [3, \#(input), \#(input)]}], "outputs": ["head"], "layers": [
           {"name": "c1", "type": "conv2d", "inputs": ["image"], "attrs": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
           {"name": "a1", "type": "leaky_relu", "inputs": ["c1"], "attrs": {"slope": 0.1}},
           {"name": "p1", "type": "max_pool2d", "inputs": ["a1"], "attrs": {"kernel_size": 8}},
           {"name": "head", "type": "conv2d", "inputs": ["p1"], "attrs": {"out_channels": \#(head), "kernel_size": 1}}]},
         "batch_size": 2, "epochs": 2\#(extra)}
        """#
    }

    func message(_ json: String) -> String {
        do { _ = try DetectionRecipe.parse(Data(json.utf8)); return "" } catch { return "\(error)" }
    }

    func testParsesValidatesAndReadsBack() throws {
        let r = try DetectionRecipe.parse(Data(recipe().utf8))
        XCTAssertTrue(DetectionRecipe.isRecipe(Data(recipe().utf8)))
        XCTAssertEqual(r.head, .init(stride: 8, anchors: 2))
        XCTAssertEqual(r.augmentation, DetectionAugmentation())
        XCTAssertEqual(r.loss, .init())
        XCTAssertEqual(try DetectionRecipe.parse(JSONFile.encode(r)), r)
        XCTAssertTrue(message(recipe(#", "epoch": 3"#)).contains("unknown field 'epoch'"))
        XCTAssertTrue(message(recipe(#", "augmentation": {"flip": 2}"#)).contains("augmentation.flip"))
        XCTAssertTrue(message(recipe(#", "augmentation": {"scale_lo": 2}"#)).contains("'augmentation.scale_lo'"))
        XCTAssertTrue(message(recipe(#", "loss": {"box": -1}"#)).contains("loss.box"))
        XCTAssertTrue(message(recipe(stride: 5)).contains("head.stride must divide"))
        XCTAssertTrue(message(recipe(head: "7")).contains("must be [\"$head_channels\", 4, 4]"), message(recipe(head: "7")))
        XCTAssertTrue(message(recipe(#", "optimizer": {"lr": 0}"#)).contains("optimizer.lr"))
        XCTAssertTrue(message(recipe(anchors: 0)).contains("head.anchors"))
    }

    func testTheShippedRecipeParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let r = try DetectionRecipe.parse(Data(contentsOf: root.appendingPathComponent("recipes/detect-fashion.json")))
        XCTAssertEqual(r.name, "detect-fashion")
        XCTAssertEqual(r.model.inputs[0].shape, [3, r.input.height, r.input.width])
    }

    func testRunPublishesAVersionWithItsGeometry() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("detrecipe-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = ModelRepository(root: dir)
        let r = try DetectionRecipe.parse(Data(recipe(anchors: 1).utf8))
        let (version, trained) = try r.run(base: dir, repository: repo)
        XCTAssertEqual(version, 1)
        XCTAssertEqual(trained.history.count, 2)
        XCTAssertEqual(trained.grid.anchors.count, 1)
        XCTAssertEqual(try repo.config(of: "det").task, .detection)
        XCTAssertEqual(try repo.config(of: "det").labels, ["T-shirt/top", "Trouser", "Pullover"])
        let v = try repo.directory(of: "det", version: 1)
        let grid = try JSONDecoder().decode(YOLOGrid.self, from: Data(contentsOf: v.appendingPathComponent("detection.json")))
        XCTAssertEqual(grid, trained.grid)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: v.appendingPathComponent("metrics.json"))) as! [String: Any]
        XCTAssertEqual(metrics["train_images"] as? Int, 1)
        XCTAssertNotNil((metrics["dev"] as? [String: Any])?["map50"])
        XCTAssertEqual(try GraphModel.load(from: v).parameterCount, trained.model.parameterCount)
        // A model of another task under the same name is refused.
        try repo.writeConfig(ModelConfig(name: "other", task: .classification, labels: ["a", "b"], input: .init(shape: [3, 32, 32], color: .rgb)))
        let clash = try DetectionRecipe.parse(Data(recipe(anchors: 1).replacingOccurrences(of: #""name": "det""#, with: #""name": "other""#).utf8))
        XCTAssertThrowsError(try clash.run(base: dir, repository: repo)) {
            XCTAssertTrue("\($0)".contains("model 'other' exists and is not a detection model"), "\($0)")
        }
    }

    /// A run killed after its first epoch resumes from the checkpoint and ends
    /// with the weights, history and optimizer steps of an uninterrupted run.
    func testACheckpointedRunResumesToTheUninterruptedResult() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("detckpt-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try DetectionRecipe.parse(Data(recipe(anchors: 1).replacingOccurrences(of: #""epochs": 2"#, with: #""epochs": 3"#).utf8))
        let whole = try r.train(base: dir)

        struct Killed: Error {}
        let file = dir.appendingPathComponent("det.ckpt.safetensors")
        XCTAssertThrowsError(try r.train(base: dir, checkpoint: file, configure: { trainer in
            let save = trainer.epochFinished!
            trainer.epochFinished = { c in try save(c); if c.epochsCompleted == 1 { throw Killed() } }
        })) { XCTAssertTrue($0 is Killed, "\($0)") }
        let saved = try DetectionCheckpoint.load(from: file)
        XCTAssertEqual(saved.epochsCompleted, 1)
        XCTAssertEqual(saved.history.count, 1)
        XCTAssertEqual(saved.anchors, whole.grid.anchors)

        var resumedAfter = -1
        let resumed = try r.train(base: dir, checkpoint: file, configure: { resumedAfter = $0.epochsCompleted })
        XCTAssertEqual(resumedAfter, 1)
        XCTAssertEqual(resumed.history.map(\.loss), whole.history.map(\.loss))
        XCTAssertEqual(resumed.history.map(\.devMAP50), whole.history.map(\.devMAP50))
        for (a, b) in zip(resumed.model.stateDict, whole.model.stateDict) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertEqual(a.tensor.data, b.tensor.data, a.name)
        }
        XCTAssertEqual(try DetectionCheckpoint.load(from: file).epochsCompleted, 3)

        // Another seed, or a file that is not a detection checkpoint, is refused by name.
        var other = r
        other.seed = 99
        XCTAssertThrowsError(try other.train(base: dir, checkpoint: file)) { XCTAssertTrue("\($0)".contains("seed"), "\($0)") }
        try Data("not a checkpoint".utf8).write(to: file)
        XCTAssertThrowsError(try r.train(base: dir, checkpoint: file)) { XCTAssertTrue("\($0)".contains("checkpoint"), "\($0)") }
    }
}
