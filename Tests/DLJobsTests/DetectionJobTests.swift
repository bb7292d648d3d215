@testable import DLJobs
import DLJobsTesting
import DLNN
import DLTrain
import DLVision
import XCTest

/// Detection recipes through the job queue: the toy split under the data
/// root, progress with images per second, epoch metrics with the dev mAP, a
/// published version with detection.json, and a run stopped after epoch 1
/// and resumed by a new queue ending with the weights of an uninterrupted run.
final class DetectionJobTests: XCTestCase {
    var root: URL!
    var state: URL { root.appendingPathComponent("state") }
    var models: URL { root.appendingPathComponent("models") }
    var data: URL { root.appendingPathComponent("data") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("detectionjob-\(UUID().uuidString)")
        try ToyDetectionData.write(to: data.appendingPathComponent("toy-det"), count: 12)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    var trainer: RecipeTrainer {
        RecipeTrainer(datasets: DatasetRegistry(directoryRoot: state.appendingPathComponent("datasets"), textRoot: data),
                      repository: ModelRepository(root: models))
    }

    static func recipe(name: String = "toy-det", epochs: Int = 6, data: [String: Any]? = nil) -> Data {
        ToyDetectionData.recipe(name: name, data: data ?? ["dir": "data/toy-det", "train": "split.json", "dev_images": 4], epochs: epochs)
    }

    func assertRefused(_ recipe: Data, _ expected: String, limits: JobLimits = JobLimits(), line: UInt = #line) {
        XCTAssertThrowsError(try trainer.plan(recipe: recipe, limits: limits), line: line) { error in
            guard case .invalidRecipe(let m) = error as? JobError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(m.contains(expected), "'\(m)' does not contain '\(expected)'", line: line)
        }
    }

    func testPlanAcceptsTheRecipeAndRefusesBadOnes() throws {
        XCTAssertEqual(try trainer.plan(recipe: Self.recipe(), limits: JobLimits()), JobPlan(model: "toy-det", epochs: 6, promote: false))
        for dir in ["../toy-det", "/etc", ".hidden"] {
            assertRefused(Self.recipe(data: ["dir": dir, "train": "split.json"]), "data.dir")
        }
        assertRefused(Self.recipe(data: ["dir": "toy-det", "train": "../split.json"]), "data.train")
        assertRefused(Self.recipe(data: ["dir": "toy-det", "train": "none.json"]), "no toy-det/none.json")
        assertRefused(Self.recipe(data: ["dir": "toy-det", "train": "split.json", "dev_images": 12]), "leave none for training")
        assertRefused(Self.recipe(epochs: 9), "epochs: 9 is more than the maximum of 5", limits: JobLimits(maxEpochs: 5))
        assertRefused(Self.recipe(), "more than the maximum of 10", limits: JobLimits(maxTrainImages: 10))
        try ModelRepository(root: models).writeConfig(ModelConfig(name: "toy-det", task: .classification, labels: ["a"], input: .init(shape: [1, 1, 1])))
        assertRefused(Self.recipe(), "exists and is not a detection model")
    }

    func testJobTrainsReportsMAPPublishesAndResumesToTheSameWeights() async throws {
        let straight = try await runJobToEnd(Self.recipe(name: "straight"), trainer: trainer, state: state, models: models, interruptAfterEpoch: nil)
        let resumed = try await runJobToEnd(Self.recipe(name: "resumed"), trainer: trainer, state: state, models: models, interruptAfterEpoch: 1)
        for r in [straight, resumed] { XCTAssertEqual(r.job.state, .succeeded, r.job.error ?? "") }
        XCTAssertEqual(resumed.job.attempts, 2)
        XCTAssertEqual(resumed.job.metrics.map(\.epoch), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(resumed.job.metrics.map(\.trainLoss), straight.job.metrics.map(\.trainLoss))
        XCTAssertEqual(resumed.job.metrics.map(\.devMAP50), straight.job.metrics.map(\.devMAP50))
        let m = try XCTUnwrap(straight.job.metrics.last)
        XCTAssertLessThan(m.trainLoss, straight.job.metrics[0].trainLoss)
        XCTAssertTrue((0...1).contains(try XCTUnwrap(m.devMAP50)))
        XCTAssertGreaterThan(m.imagesPerSecond, 0)
        XCTAssertGreaterThan(straight.job.metrics[0].learningRate, 0)
        XCTAssertEqual(m.learningRate, 0, accuracy: 1e-9, "cosine decay ends at 0")
        XCTAssertTrue(straight.progress.contains { $0.totalBatches == 2 && ($0.imagesPerSecond ?? 0) > 0 }, "\(straight.progress)")

        let repo = ModelRepository(root: models)
        let a = try repo.load("straight", version: 1), b = try repo.load("resumed", version: 1)
        for (x, y) in zip(a.model.stateDict, b.model.stateDict) { XCTAssertEqual(x.tensor.data, y.tensor.data, x.name) }
        XCTAssertEqual(try repo.config(of: "straight").task, .detection)
        XCTAssertEqual(try repo.config(of: "straight").labels, ToyDetectionData.classes)
        for f in ["detection.json", "metrics.json", "recipe.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: a.directory.appendingPathComponent(f).path), f)
        }
        let grid = try JSONDecoder().decode(YOLOGrid.self, from: Data(contentsOf: a.directory.appendingPathComponent("detection.json")))
        XCTAssertEqual(grid.classes, 2)
        XCTAssertEqual(grid.anchors.count, 2)
    }
}
