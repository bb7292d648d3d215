import DLJobs
import DLNN
import DLTrain
import Foundation

/// A fast stand-in for the real trainer. Its recipe:
///
///     {"name": "m", "epochs": 3, "batches": 4, "batch_delay_ms": 0, "promote": false,
///      "nan_at": [epoch, batch], "fail_with": "message"}
///
/// It checks `shouldStop` before every batch, reports every batch, saves a
/// JSON checkpoint after every epoch (atomically) and resumes from it, and
/// records what it saw for the tests.
public final class FakeTrainer: JobTrainer, @unchecked Sendable {
    public struct Recipe: Codable {
        var name: String
        var epochs: Int
        var batches: Int?
        var batchDelayMs: Int?
        var promote: Bool?
        var nanAt: [Int]?
        var failWith: String?

        enum CodingKeys: String, CodingKey {
            case name, epochs, batches, promote
            case batchDelayMs = "batch_delay_ms", nanAt = "nan_at", failWith = "fail_with"
        }
    }

    public struct Checkpoint: Codable {
        public var epochsCompleted: Int
        public var history: [EpochMetrics]

        public init(epochsCompleted: Int, history: [EpochMetrics]) {
            self.epochsCompleted = epochsCompleted
            self.history = history
        }
    }

    public init() {}

    private let lock = NSLock()
    private var _resumedFrom: [Int] = []
    private var _batchesRun = 0
    private var _threadNames: [String] = []
    private var _niceValues: [Int32] = []
    private var _inTask: [Bool] = []
    private var _concurrent = 0
    private var _maxConcurrent = 0

    public var resumedFrom: [Int] { lock.withLock { _resumedFrom } }
    public var batchesRun: Int { lock.withLock { _batchesRun } }
    public var threadNames: [String] { lock.withLock { _threadNames } }
    public var niceValues: [Int32] { lock.withLock { _niceValues } }
    /// Whether each run was inside a Swift task (on the cooperative pool).
    public var ranInTask: [Bool] { lock.withLock { _inTask } }
    public var maxConcurrent: Int { lock.withLock { _maxConcurrent } }

    public static func recipe(_ name: String = "fake", epochs: Int = 2, batches: Int = 3, delayMs: Int = 0,
                       promote: Bool = false, nanAt: (Int, Int)? = nil) -> Data {
        var r = Recipe(name: name, epochs: epochs, batches: batches, batchDelayMs: delayMs, promote: promote)
        if let nanAt { r.nanAt = [nanAt.0, nanAt.1] }
        return try! JSONEncoder().encode(r)
    }

    public func plan(recipe: Data, limits: JobLimits) throws -> JobPlan {
        guard let r = try? JSONDecoder().decode(Recipe.self, from: recipe) else {
            throw JobError.invalidRecipe("name: missing")
        }
        guard r.epochs >= 1 else { throw JobError.invalidRecipe("epochs must be at least 1, got \(r.epochs)") }
        guard r.epochs <= limits.maxEpochs else {
            throw JobError.invalidRecipe("epochs \(r.epochs) exceeds the maximum of \(limits.maxEpochs)")
        }
        return JobPlan(model: r.name, epochs: r.epochs, promote: r.promote ?? false)
    }

    public func train(_ run: JobRun) throws -> TrainedModel {
        let r = try JSONDecoder().decode(Recipe.self, from: run.recipe)
        lock.withLock {
            _threadNames.append(JobWorkerThread.currentName())
            _niceValues.append(JobWorkerThread.currentNiceness())
            _inTask.append(withUnsafeCurrentTask { $0 != nil })
            _concurrent += 1
            _maxConcurrent = max(_maxConcurrent, _concurrent)
        }
        defer { lock.withLock { _concurrent -= 1 } }
        var history: [EpochMetrics] = []
        var start = 0
        if run.resumeFromEpoch > 0 {
            let c = try JSONDecoder().decode(Checkpoint.self, from: Data(contentsOf: run.checkpointURL))
            history = c.history
            start = c.epochsCompleted
            try run.restored(history: history)
        }
        lock.withLock { _resumedFrom.append(start) }
        let batches = r.batches ?? 3
        for epoch in start..<r.epochs {
            for b in 0..<batches {
                if run.shouldStop() { throw TrainingError.cancelled }
                if let d = r.batchDelayMs, d > 0 { Thread.sleep(forTimeInterval: Double(d) / 1000) }
                lock.withLock { _batchesRun += 1 }
                if r.nanAt == [epoch + 1, b + 1] { throw TrainingError.diverged(epoch: epoch, batch: b, loss: .nan) }
                if let m = r.failWith { throw TrainingError.dataset(m) }
                run.batchFinished(batchProgress(epoch: epoch + 1, epochs: r.epochs, batch: b + 1, batches: batches))
            }
            let m = epochMetrics(epoch + 1, trainLoss: 1 / Float(epoch + 1), trainAccuracy: 0.5 + 0.1 * Float(epoch),
                                 devLoss: 1.1 / Float(epoch + 1), devAccuracy: 0.45 + 0.1 * Float(epoch))
            history.append(m)
            let data = try JSONEncoder().encode(Checkpoint(epochsCompleted: epoch + 1, history: history))
            try AtomicFile.write(data, to: run.checkpointURL)
            try run.epochFinished(m)
        }
        let finalHistory = history
        return TrainedModel(
            save: { dir in try FakeTrainer.tinyModel().save(to: dir) },
            metrics: try JSONEncoder().encode(["history": finalHistory]),
            config: ModelConfig(name: r.name, labels: (0..<10).map { "class\($0)" },
                                input: .init(shape: [1, 28, 28])))
    }

    /// [N, 1, 28, 28] -> conv 1x1 to 10 channels -> global average pool -> [N, 10].
    public static func tinyModel() throws -> GraphModel {
        let spec = ModelSpec(inputShape: [1, 28, 28], layers: [
            LayerSpec(name: "conv", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 10, "kernel_size": 1]),
            LayerSpec(name: "pool", type: "global_avg_pool", inputs: ["conv"]),
        ], output: "pool")
        return try GraphModel(spec: spec, seed: 1)
    }
}

public func batchProgress(epoch: Int, epochs: Int, batch: Int, batches: Int) -> BatchProgress {
    let json = """
        {"epoch":\(epoch),"epochs":\(epochs),"batch":\(batch),"batches":\(batches),"loss":0.5,"accuracy":0.75,
         "images_per_second":1000,"learning_rate":0.01}
        """
    return try! JSONDecoder().decode(BatchProgress.self, from: Data(json.utf8))
}
