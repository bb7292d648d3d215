@testable import DLJobs
import DLNN
import DLTensor
import DLText
import DLTrain
import DLJobsTesting
import XCTest

/// The real trainer behind the queue, on a tiny dataset directory placed
/// under STATE/datasets/ (200 images of 1x8x8, 3 classes: a bright band in a
/// class-dependent row range).
final class RecipeTrainerTests: XCTestCase {
    var root: URL!
    var state: URL { root.appendingPathComponent("state") }
    var models: URL { root.appendingPathComponent("models") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("recipetrainer-\(UUID().uuidString)")
        try Self.writeTinyDataset(to: state.appendingPathComponent("datasets/bands"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    static func writeTinyDataset(to dir: URL, count: Int = 200) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 7)
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for i in 0..<count {
            let c = i % 3
            labels.append(UInt8(c))
            for y in 0..<8 {
                for _ in 0..<8 {
                    let band = y / 3 == c || (c == 2 && y == 7)
                    pixels.append(UInt8(min(255, (band ? 180 : 20) + Int(rng.uniform() * 60))))
                }
            }
        }
        try Data(IDXFile(dims: [count, 8, 8], bytes: pixels).encoded()).write(to: dir.appendingPathComponent("train-images-idx3-ubyte"))
        try Data(IDXFile(dims: [count], bytes: labels).encoded()).write(to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        try "top\nmiddle\nbottom\n".write(to: dir.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
    }

    var trainer: RecipeTrainer { RecipeTrainer(stateDirectory: state, repository: ModelRepository(root: models)) }

    static func recipe(_ overrides: [String: Any] = [:], name: String = "bands", epochs: Int = 3) -> Data {
        var r: [String: Any] = [
            "name": name, "dataset": ["name": "bands", "dev_fraction": 0.2],
            "model": ["preset": "mlp", "width": 16, "keep_prob": 1.0],
            "optimizer": ["name": "adam", "lr": 0.01], "epochs": epochs, "batch_size": 16, "seed": 3,
        ]
        for (k, v) in overrides { r[k] = v }
        return try! JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
    }

    func assertRefused(_ recipe: Data, _ expected: String, limits: JobLimits = JobLimits(), line: UInt = #line) {
        XCTAssertThrowsError(try trainer.plan(recipe: recipe, limits: limits), line: line) { error in
            guard case .invalidRecipe(let m) = error as? JobError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(m.contains(expected), "'\(m)' does not contain '\(expected)'", line: line)
        }
    }

    func testPlanAcceptsAGoodRecipe() throws {
        let plan = try trainer.plan(recipe: Self.recipe(["promote": true]), limits: JobLimits())
        XCTAssertEqual(plan, JobPlan(model: "bands", epochs: 3, promote: true))
    }

    func testPlanRefusesBadRecipesNamingTheField() throws {
        assertRefused(Data("{".utf8), "not valid JSON")
        assertRefused(Self.recipe(["optimizer": ["name": "adam", "learning_rate": 0.1]]), "optimizer.learning_rate")
        assertRefused(Self.recipe(["optimizer": ["name": "adam", "lr": -1]]), "optimizer.lr must be > 0")
        assertRefused(Self.recipe(["dataset": ["name": "nope"]]), "dataset.name: unknown dataset 'nope'")
        assertRefused(Self.recipe(["dataset": ["name": "../datasets/bands"]]), "dataset.name: invalid dataset name")
        assertRefused(Self.recipe(["model": ["preset": "resnet9000"]]), "model.preset: unknown preset")
        let badLayer: [String: Any] = ["architecture": ["format": "dlserve-model/1", "input_shape": [1, 8, 8], "output": "x",
                                                        "layers": [["name": "x", "type": "magic", "inputs": ["input"]]]]]
        assertRefused(Self.recipe(["model": badLayer]), "model.architecture.layers[0].type: unknown layer 'magic'")
        let wrongShape: [String: Any] = ["architecture": ["format": "dlserve-model/1", "input_shape": [1, 28, 28], "output": "f",
                                                          "layers": [["name": "f", "type": "flatten", "inputs": ["input"]]]]]
        assertRefused(Self.recipe(["model": wrongShape]), "model.architecture.input_shape [1, 28, 28] does not match")
        let wrongOutput: [String: Any] = ["architecture": ["format": "dlserve-model/1", "input_shape": [1, 8, 8], "output": "fc", "layers": [
            ["name": "f", "type": "flatten", "inputs": ["input"]],
            ["name": "fc", "type": "dense", "inputs": ["f"], "attrs": ["units": 5]]]]]
        assertRefused(Self.recipe(["model": wrongOutput]), "expected [3] for the 3 classes of 'bands'")
        assertRefused(Self.recipe(["epochs": 11]), "epochs 11 exceeds the maximum of 10", limits: JobLimits(maxEpochs: 10))
        assertRefused(Self.recipe(), "has 200 training images, more than the maximum of 100", limits: JobLimits(maxTrainImages: 100))
        assertRefused(Self.recipe(["labels": ["a", "b"]]), "labels: 2 names for the 3 classes")
        assertRefused(Self.recipe(["model": ["preset": "mlp", "width": 1000]]), "parameters, more than the maximum of 1000",
                      limits: JobLimits(maxParameters: 1000))
    }

    func testQueueTrainsPublishesAndAGracefulRestartResumesToTheSameWeights() async throws {
        // Uninterrupted run.
        let straight = try await runJob(Self.recipe(name: "straight", epochs: 3), interruptAfterEpoch: nil)
        // A run stopped after epoch 1 (graceful shutdown) and resumed by a new queue.
        let resumed = try await runJob(Self.recipe(name: "resumed", epochs: 3), interruptAfterEpoch: 1)
        XCTAssertEqual(straight.job.state, .succeeded)
        XCTAssertEqual(resumed.job.state, .succeeded)
        XCTAssertEqual(resumed.job.attempts, 2)
        XCTAssertEqual(resumed.job.metrics.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(resumed.job.metrics, straight.job.metrics.map { m in
            var m = m
            m.seconds = resumed.job.metrics[m.epoch - 1].seconds
            m.cpuSeconds = resumed.job.metrics[m.epoch - 1].cpuSeconds
            m.imagesPerSecond = resumed.job.metrics[m.epoch - 1].imagesPerSecond
            return m
        }, "the resumed run's losses and accuracies equal the uninterrupted run's")
        let a = try ModelRepository(root: models).load("straight", version: 1).model.stateDict
        let b = try ModelRepository(root: models).load("resumed", version: 1).model.stateDict
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.tensor.data, y.tensor.data, x.name) }
        XCTAssertGreaterThan(straight.job.metrics.last!.devAccuracy!, 0.9, "the bands are easy to learn")
        // metrics.json is the TrainingReport; config.json was written for the new model.
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: models.appendingPathComponent("straight/1/metrics.json"))) as! [String: Any]
        XCTAssertEqual((metrics["history"] as? [Any])?.count, 3)
        XCTAssertEqual(try ModelRepository(root: models).config(of: "straight").labels, ["top", "middle", "bottom"])
    }

    /// A sentiment recipe submitted as a job trains on a text dataset,
    /// publishes a version with its vocabulary and a text config.
    func testTextRecipeTrainsAndPublishesAVersionWithItsVocabulary() async throws {
        let text = root.appendingPathComponent("text/polar")
        try FileManager.default.createDirectory(at: text, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 11)
        let positive = ["good", "great", "fine", "lovely"], negative = ["bad", "awful", "poor", "dull"]
        let filler = ["the", "film", "was", "a", "plot", "and", "acting", "very"]
        for (split, n) in [("train", 160), ("dev", 40), ("test", 40)] {
            var lines: [String] = []
            for i in 0..<n {
                let isPositive = i % 2 == 0
                let words = (0..<(3 + i % 5)).map { _ in filler[Int(rng.uniform() * Float(filler.count)) % filler.count] }
                let key = (isPositive ? positive : negative)[Int(rng.uniform() * 4) % 4]
                lines.append("\(isPositive ? "positive" : "negative")\t\((words + [key]).joined(separator: " "))")
            }
            try (lines.joined(separator: "\n") + "\n").write(to: text.appendingPathComponent("\(split).tsv"), atomically: true, encoding: .utf8)
        }
        try "negative\npositive\n".write(to: text.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        let registry = DatasetRegistry(directoryRoot: state.appendingPathComponent("datasets"), textRoot: root.appendingPathComponent("text"))
        let textTrainer = RecipeTrainer(datasets: registry, repository: ModelRepository(root: models))
        let recipe = try JSONSerialization.data(withJSONObject: [
            "name": "polar", "dataset": ["name": "polar"],
            "model": ["architecture": ["input_shape": [-1], "layers": [
                ["name": "mask", "type": "sequence_mask", "inputs": ["input"], "attrs": ["padding_idx": 0]],
                ["name": "embed", "type": "embedding", "inputs": ["input"], "attrs": ["dim": 8, "padding_idx": 0]],
                ["name": "gru", "type": "gru", "inputs": ["embed", "mask"], "attrs": ["hidden_size": 8]],
                ["name": "pool", "type": "sequence_pool", "inputs": ["gru", "mask"], "attrs": ["mode": "max"]],
                ["name": "logits", "type": "dense", "inputs": ["pool"], "attrs": ["units": 2]],
            ]]],
            "optimizer": ["name": "adam", "lr": 0.02], "epochs": 6, "batch_size": 16, "seed": 5, "normalize": false,
        ] as [String: Any])
        XCTAssertEqual(try textTrainer.plan(recipe: recipe, limits: JobLimits()).model, "polar")
        let queue = JobQueue(store: try SQLiteJobStore(stateDirectory: state), trainer: textTrainer, repository: ModelRepository(root: models),
                             configuration: JobQueueConfiguration(stateDirectory: state, progressInterval: 0))
        try queue.start()
        let job = try queue.submit(recipe: recipe)
        for try await _ in try queue.follow(job.id, pollInterval: .milliseconds(100)) {}
        queue.beginShutdown()
        await queue.waitUntilStopped()
        let done = try queue.job(job.id)
        XCTAssertEqual(done.state, .succeeded, done.error ?? "")
        XCTAssertGreaterThan(done.metrics.last?.devAccuracy ?? 0, 0.9, "one keyword decides each text")
        let repo = ModelRepository(root: models)
        let config = try repo.config(of: "polar")
        XCTAssertEqual(config.task, .sentiment)
        XCTAssertEqual(config.input.text?.vocabulary, "vocab.txt")
        XCTAssertEqual(config.labels, ["negative", "positive"])
        let loaded = try repo.load("polar", version: 1)
        let vocabulary = try Vocabulary.load(loaded.directory.appendingPathComponent("vocab.txt"))
        XCTAssertEqual(vocabulary.id("<pad>"), 0)
        XCTAssertEqual(vocabulary.id("good") > 1, true)
        let embedding = try XCTUnwrap(loaded.model.layers.compactMap { $0 as? Embedding }.first)
        XCTAssertEqual(embedding.vocabSize, vocabulary.count)
    }

    func runJob(_ recipe: Data, interruptAfterEpoch: Int?) async throws -> (job: Job, progress: [JobProgress]) {
        try await runJobToEnd(recipe, trainer: trainer, state: state, models: models, interruptAfterEpoch: interruptAfterEpoch)
    }
}
