@testable import DLJobs
import DLJobsTesting
import DLNN
import DLTrain
import XCTest

/// Face-embedding recipes through the job queue: the mini folder-per-person
/// set (data/faces/mini/train, `make test` writes it) under the data root,
/// epoch metrics with the held-out people's pair accuracy, a published
/// version with verification.json, and a run stopped after epoch 1 and
/// resumed by a new queue ending with the weights of an uninterrupted run.
final class FaceJobTests: XCTestCase {
    var root: URL!
    var state: URL { root.appendingPathComponent("state") }
    var models: URL { root.appendingPathComponent("models") }
    var data: URL { root.appendingPathComponent("data") }

    static let mini = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/faces/mini/train")

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Self.mini.path) else {
            XCTFail("\(Self.mini.path) is missing: make test (or make data-faces) writes it")
            throw XCTSkip("no mini face set")
        }
        root = FileManager.default.temporaryDirectory.appendingPathComponent("facejob-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("faces-mini"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.mini, to: data.appendingPathComponent("faces-mini/train"))
    }

    override func tearDownWithError() throws { if let root { try? FileManager.default.removeItem(at: root) } }

    var trainer: RecipeTrainer {
        RecipeTrainer(datasets: DatasetRegistry(directoryRoot: state.appendingPathComponent("datasets"), textRoot: data),
                      repository: ModelRepository(root: models))
    }

    static func recipe(name: String = "faces", epochs: Int = 3, dir: String = "data/faces-mini", train: String = "train") -> Data {
        let r: [String: Any] = [
            "name": name, "task": "embedding",
            "data": ["dir": dir, "train": train, "dev_identities": 2, "dev_pairs": 30],
            "input": ["shape": [1, 12, 12], "color": "grayscale", "preprocessing": ["mean": [0.5], "std": [0.25]]],
            "model": ["inputs": [["name": "image", "shape": [1, 12, 12]]], "outputs": ["e"], "layers": [
                ["name": "c", "type": "conv2d", "inputs": ["image"], "attrs": ["out_channels": 4, "kernel_size": 3, "padding": 1]],
                ["name": "r", "type": "relu", "inputs": ["c"]],
                ["name": "f", "type": "flatten", "inputs": ["r"]],
                ["name": "d", "type": "dense", "inputs": ["f"], "attrs": ["units": 8]],
                ["name": "e", "type": "l2_normalize", "inputs": ["d"]],
            ]],
            "objective": ["loss": "triplet", "mining": "batch_hard"],
            "batch": ["identities": 4, "images": 3], "steps_per_epoch": 4,
            "optimizer": ["lr": 0.003, "warmup_steps": 2], "epochs": epochs, "seed": 5,
        ]
        return try! JSONSerialization.data(withJSONObject: r)
    }

    func assertRefused(_ recipe: Data, _ expected: String, limits: JobLimits = JobLimits(), line: UInt = #line) {
        XCTAssertThrowsError(try trainer.plan(recipe: recipe, limits: limits), line: line) { error in
            guard case .invalidRecipe(let m) = error as? JobError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(m.contains(expected), "'\(m)' does not contain '\(expected)'", line: line)
        }
    }

    func testPlanAcceptsTheRecipeAndRefusesBadOnes() throws {
        XCTAssertEqual(try trainer.plan(recipe: Self.recipe(), limits: JobLimits()), JobPlan(model: "faces", epochs: 3, promote: false))
        assertRefused(Self.recipe(dir: "../faces-mini"), "data.dir")
        assertRefused(Self.recipe(train: "nobody"), "no faces-mini/nobody")
        assertRefused(Self.recipe(epochs: 9), "epochs: 9 is more than the maximum of 5", limits: JobLimits(maxEpochs: 5))
        assertRefused(Self.recipe(), "more than the maximum of 10", limits: JobLimits(maxTrainImages: 10))
        try ModelRepository(root: models).writeConfig(ModelConfig(name: "faces", task: .classification, labels: ["a"], input: .init(shape: [1, 1, 1])))
        assertRefused(Self.recipe(), "exists and is not a embedding model")
    }

    func testJobTrainsReportsDevAccuracyPublishesAndResumesToTheSameWeights() async throws {
        let straight = try await runJobToEnd(Self.recipe(name: "straight"), trainer: trainer, state: state, models: models, interruptAfterEpoch: nil)
        let resumed = try await runJobToEnd(Self.recipe(name: "resumed"), trainer: trainer, state: state, models: models, interruptAfterEpoch: 1)
        for r in [straight, resumed] { XCTAssertEqual(r.job.state, .succeeded, r.job.error ?? "") }
        XCTAssertEqual(resumed.job.attempts, 2)
        XCTAssertEqual(resumed.job.metrics.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(resumed.job.metrics.map(\.trainLoss), straight.job.metrics.map(\.trainLoss))
        XCTAssertEqual(resumed.job.metrics.map(\.devAccuracy), straight.job.metrics.map(\.devAccuracy))
        XCTAssertTrue((0.5...1).contains(try XCTUnwrap(straight.job.metrics.last?.devAccuracy)))
        let repo = ModelRepository(root: models)
        let a = try repo.load("straight", version: 1), b = try repo.load("resumed", version: 1)
        for (x, y) in zip(a.model.stateDict, b.model.stateDict) { XCTAssertEqual(x.tensor.data, y.tensor.data, x.name) }
        XCTAssertEqual(try repo.config(of: "straight").task, .embedding)
        let file = try VerificationFile.load(a.directory.appendingPathComponent(VerificationFile.fileName))
        XCTAssertEqual(file.dim, 8)
    }
}
