@testable import DLJobs
import DLNN
import DLTensor
import DLText
import DLTrain
import XCTest

/// Translation recipes through the job queue: a toy word-for-word
/// "translation" under the data root, a one-layer transformer, progress with
/// tokens per second, epoch metrics with dev BLEU, a published version with
/// its subword files, and a run stopped after epoch 1 and resumed by a new
/// queue ending with the weights of an uninterrupted run.
final class TranslationJobTests: XCTestCase {
    static let words = ["cat": "gato", "dog": "perro", "sun": "sol", "red": "rojo", "big": "grande", "sea": "mar"]
    var root: URL!
    var state: URL { root.appendingPathComponent("state") }
    var models: URL { root.appendingPathComponent("models") }
    var data: URL { root.appendingPathComponent("data") }

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("translationjob-\(UUID().uuidString)")
        let dir = data.appendingPathComponent("toy-mt/all")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let keys = Self.words.keys.sorted()
        var rng = SeededGenerator(seed: 5)
        func lines(_ n: Int) -> String {
            (0..<n).map { _ in
                let s = (0..<(2 + Int(rng.next() % 3))).map { _ in keys[Int(rng.next() % UInt64(keys.count))] }
                return s.joined(separator: " ") + "\t" + s.map { Self.words[$0]! }.joined(separator: " ")
            }.joined(separator: "\n") + "\n"
        }
        try lines(120).write(to: dir.appendingPathComponent("train.tsv"), atomically: true, encoding: .utf8)
        try lines(20).write(to: dir.appendingPathComponent("dev.tsv"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    var trainer: RecipeTrainer {
        RecipeTrainer(datasets: DatasetRegistry(directoryRoot: state.appendingPathComponent("datasets"), textRoot: data),
                      repository: ModelRepository(root: models))
    }

    static func recipe(name: String = "toy-mt", epochs: Int = 3, data: [String: Any]? = nil) -> Data {
        let t: [String: Any] = ["num_heads": 2, "dim_feedforward": 32, "dropout": 0]
        let r: [String: Any] = [
            "name": name, "task": "translation",
            "data": data ?? ["dir": "data/toy-mt/all", "train": "train.tsv", "dev": "dev.tsv", "bleu_sentences": 10],
            "subwords": ["merges": 60, "shared": true],
            "model": [
                "inputs": [["name": "src", "shape": [-1], "dtype": "int64"], ["name": "tgt", "shape": [-1], "dtype": "int64"]],
                "outputs": ["logits"],
                "layers": [
                    ["name": "src_mask", "type": "sequence_mask", "inputs": ["src"], "attrs": ["padding_idx": 0]],
                    ["name": "tgt_mask", "type": "sequence_mask", "inputs": ["tgt"], "attrs": ["padding_idx": 0]],
                    ["name": "src_embed", "type": "embedding", "inputs": ["src"], "attrs": ["vocab_size": "$source_vocab", "dim": 16, "padding_idx": 0]],
                    ["name": "src_pos", "type": "positional_encoding", "inputs": ["src_embed"]],
                    ["name": "memory", "type": "transformer_encoder_layer", "inputs": ["src_pos", "src_mask"], "attrs": t],
                    ["name": "tgt_embed", "type": "embedding", "inputs": ["tgt"], "attrs": ["vocab_size": "$target_vocab", "dim": 16, "padding_idx": 0]],
                    ["name": "tgt_pos", "type": "positional_encoding", "inputs": ["tgt_embed"]],
                    ["name": "decoder", "type": "transformer_decoder_layer", "inputs": ["tgt_pos", "tgt_mask", "memory", "src_mask"], "attrs": t],
                    ["name": "logits", "type": "dense", "inputs": ["decoder"], "attrs": ["units": "$target_vocab"]],
                ],
            ],
            "optimizer": ["lr": 0.003, "warmup_steps": 10], "label_smoothing": 0, "batch_tokens": 200, "epochs": epochs, "seed": 3,
        ]
        return try! JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
    }

    func assertRefused(_ recipe: Data, _ expected: String, limits: JobLimits = JobLimits(), line: UInt = #line) {
        XCTAssertThrowsError(try trainer.plan(recipe: recipe, limits: limits), line: line) { error in
            guard case .invalidRecipe(let m) = error as? JobError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(m.contains(expected), "'\(m)' does not contain '\(expected)'", line: line)
        }
    }

    func testPlanAcceptsTheRecipeAndRefusesPathsOutsideTheDataRoot() throws {
        XCTAssertEqual(try trainer.plan(recipe: Self.recipe(), limits: JobLimits()), JobPlan(model: "toy-mt", epochs: 3, promote: false))
        // Without the leading "data/" too.
        let plain: [String: Any] = ["dir": "toy-mt/all", "train": "train.tsv", "dev": "dev.tsv"]
        XCTAssertEqual(try trainer.plan(recipe: Self.recipe(data: plain), limits: JobLimits()).model, "toy-mt")
        for dir in ["../toy-mt/all", "/etc", "toy-mt/../../x", ".hidden/all", ""] {
            assertRefused(Self.recipe(data: ["dir": dir, "train": "train.tsv", "dev": "dev.tsv"]), "data.dir")
        }
        assertRefused(Self.recipe(data: ["dir": "toy-mt/all", "train": "../all/train.tsv", "dev": "dev.tsv"]), "data.train")
        assertRefused(Self.recipe(data: ["dir": "toy-mt/none", "train": "train.tsv", "dev": "dev.tsv"]), "data.dir: no toy-mt/none/train.tsv")
        assertRefused(Self.recipe(data: ["dir": "toy-mt/all", "train": "train.tsv", "dev": "nope.tsv"]), "nope.tsv")
        assertRefused(Self.recipe(epochs: 9), "epochs: 9 is more than the maximum of 5", limits: JobLimits(maxEpochs: 5))
        assertRefused(Self.recipe(), "more than the maximum of 100", limits: JobLimits(maxTrainImages: 100))
        var bad = try JSONSerialization.jsonObject(with: Self.recipe()) as! [String: Any]
        bad["batch_size"] = 3
        assertRefused(try JSONSerialization.data(withJSONObject: bad), "unknown field 'batch_size'")
        // A model of another task keeps its name.
        try ModelRepository(root: models).writeConfig(ModelConfig(name: "toy-mt", task: .classification, labels: ["a"], input: .init(shape: [1, 1, 1])))
        assertRefused(Self.recipe(), "exists and is not a translation model")
    }

    func testJobTrainsReportsTokensAndBLEUPublishesAndResumesToTheSameWeights() async throws {
        let straight = try await runJob(Self.recipe(name: "straight"), interruptAfterEpoch: nil)
        let resumed = try await runJob(Self.recipe(name: "resumed"), interruptAfterEpoch: 1)
        for r in [straight, resumed] { XCTAssertEqual(r.job.state, .succeeded, r.job.error ?? "") }
        XCTAssertEqual(resumed.job.attempts, 2)
        XCTAssertEqual(resumed.job.metrics.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(resumed.job.metrics.map(\.trainLoss), straight.job.metrics.map(\.trainLoss))
        XCTAssertEqual(resumed.job.metrics.map(\.devBLEU), straight.job.metrics.map(\.devBLEU))
        let m = try XCTUnwrap(straight.job.metrics.last)
        XCTAssertLessThan(m.trainLoss, straight.job.metrics[0].trainLoss)
        XCTAssertNotNil(m.devBLEU)
        XCTAssertGreaterThan(m.tokensPerSecond ?? 0, 0)
        XCTAssertGreaterThan(m.imagesPerSecond, 0, "sentence pairs per second")
        XCTAssertGreaterThan(m.learningRate, 0)
        XCTAssertTrue((0...1).contains(m.trainAccuracy))
        XCTAssertTrue(straight.progress.contains { ($0.tokensPerSecond ?? 0) > 0 && $0.totalBatches > 0 }, "progress events carry tokens/s")

        let repo = ModelRepository(root: models)
        let a = try repo.load("straight", version: 1), b = try repo.load("resumed", version: 1)
        for (x, y) in zip(a.model.stateDict, b.model.stateDict) { XCTAssertEqual(x.tensor.data, y.tensor.data, x.name) }
        XCTAssertEqual(try repo.config(of: "straight").task, .translation)
        for f in ["bpe.vocab.txt", "bpe.merges.txt", "metrics.json", "recipe.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: a.directory.appendingPathComponent(f).path), f)
        }
        let subwords = try TranslationSubwords.load(from: a.directory)
        XCTAssertEqual(subwords.encodeSource("cat sea").last, BPEModel.endID)
    }

    func runJob(_ recipe: Data, interruptAfterEpoch: Int?) async throws -> (job: Job, progress: [JobProgress]) {
        try await runJobToEnd(recipe, trainer: trainer, state: state, models: models, interruptAfterEpoch: interruptAfterEpoch)
    }
}
