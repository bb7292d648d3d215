import DLNN
import DLTensor
import Foundation

/// Everything needed to continue a run after its last finished epoch: model
/// weights and buffers, optimizer state, the epoch, metrics so far and the
/// best-so-far weights for early stopping. The random state is the seed and
/// the epoch: every stream is derived from them (`SeedStream`).
///
/// On disk it is one safetensors file, written atomically (temporary file,
/// fsync, rename), so a kill at any moment leaves the previous checkpoint or
/// the new one, never a mix:
///
///     model/<param>              weights and buffers ("model/conv1.weight")
///     best/<param>               best-so-far weights (early stopping only)
///     optimizer/<param>/<buffer> optimizer buffers, flat ("optimizer/conv1.weight/exp_avg")
///     __metadata__["dlserve.training"]  JSON: epochs, seed, history, steps, best epoch/loss
public struct TrainingCheckpoint: Sendable {
    /// The weights with the lowest dev loss so far.
    public struct Best: Sendable, Equatable {
        public var epoch: Int
        public var devLoss: Float
        /// Empty when early stopping is off (nothing will be restored).
        public var weights: [String: Tensor]

        public init(epoch: Int, devLoss: Float, weights: [String: Tensor]) {
            self.epoch = epoch
            self.devLoss = devLoss
            self.weights = weights
        }

        public static func == (a: Best, b: Best) -> Bool {
            a.epoch == b.epoch && a.devLoss == b.devLoss && a.weights.keys == b.weights.keys
                && a.weights.allSatisfy { b.weights[$0.key]?.data == $0.value.data }
        }
    }

    public static let format = "dlserve-training/1"
    public static let fileName = "training-state.safetensors"

    public var epochsCompleted: Int
    public var seed: UInt64
    public var batchSize: Int
    public var trainCount: Int
    public var weights: [String: Tensor]
    public var optimizer: OptimizerState
    public var history: [EpochMetrics]
    public var best: Best?
    public var epochsWithoutImprovement: Int
    public var stoppedEarly: Bool

    public init(
        epochsCompleted: Int, seed: UInt64, batchSize: Int, trainCount: Int, weights: [String: Tensor],
        optimizer: OptimizerState, history: [EpochMetrics], best: Best?, epochsWithoutImprovement: Int, stoppedEarly: Bool
    ) {
        self.epochsCompleted = epochsCompleted
        self.seed = seed
        self.batchSize = batchSize
        self.trainCount = trainCount
        self.weights = weights
        self.optimizer = optimizer
        self.history = history
        self.best = best
        self.epochsWithoutImprovement = epochsWithoutImprovement
        self.stoppedEarly = stoppedEarly
    }

    /// The JSON part (everything but the tensors).
    struct Meta: CheckpointMetadata {
        var format: String
        var epochsCompleted: Int
        var seed: String  // UInt64 as a decimal string: JSON numbers lose precision above 2^53
        var batchSize: Int
        var trainCount: Int
        var history: [EpochMetrics]
        var bestEpoch: Int?
        var bestDevLoss: Float?
        var bestHasWeights: Bool
        var epochsWithoutImprovement: Int
        var stoppedEarly: Bool
        var optimizerRule: String
        /// Per parameter: its step count and buffer names.
        var optimizerSteps: [String: Int]
        var optimizerBuffers: [String: [String]]
    }

    // MARK: file

    public func encoded() throws -> Data {
        let meta = Meta(
            format: Self.format, epochsCompleted: epochsCompleted, seed: String(seed), batchSize: batchSize,
            trainCount: trainCount, history: history, bestEpoch: best?.epoch, bestDevLoss: best?.devLoss,
            bestHasWeights: !(best?.weights.isEmpty ?? true), epochsWithoutImprovement: epochsWithoutImprovement,
            stoppedEarly: stoppedEarly, optimizerRule: optimizer.rule,
            optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.bufferNames)
        return try CheckpointFile.encode(weights: weights, extra: best.map { ["best": $0.weights] } ?? [:], optimizer: optimizer,
                                         key: "dlserve.training", metadata: meta)
    }

    /// Writes the checkpoint atomically to `url` (the directory must exist).
    public func save(to url: URL) throws {
        try AtomicFile.write(try encoded(), to: url)
    }

    /// Reads and validates a checkpoint written by `save(to:)`.
    public static func load(from url: URL) throws -> TrainingCheckpoint {
        let file: SafetensorsFile
        do { file = try Safetensors.read(contentsOf: url) } catch let e as ModelError {
            throw TrainingError.checkpoint("\(e)")
        }
        return try decode(file, what: url.path)
    }

    public static func decode(_ file: SafetensorsFile, what: String = "training checkpoint") throws -> TrainingCheckpoint {
        let c: CheckpointFile.Contents<Meta> = try CheckpointFile.decode(file, key: "dlserve.training", kind: "training", format: format,
                                                                         extraPrefixes: ["best"], what: what)
        let meta = c.meta, bestWeights = c.extra["best"] ?? [:]
        guard meta.bestHasWeights == !bestWeights.isEmpty else {
            throw TrainingError.checkpoint("\(what): best-so-far weights are \(bestWeights.isEmpty ? "missing" : "unexpected")")
        }
        let best = meta.bestEpoch.map { Best(epoch: $0, devLoss: meta.bestDevLoss ?? .infinity, weights: bestWeights) }
        return TrainingCheckpoint(
            epochsCompleted: meta.epochsCompleted, seed: try CheckpointFile.seed(meta.seed, what: what), batchSize: meta.batchSize,
            trainCount: meta.trainCount, weights: c.weights, optimizer: c.optimizer,
            history: meta.history, best: best, epochsWithoutImprovement: meta.epochsWithoutImprovement,
            stoppedEarly: meta.stoppedEarly)
    }
}
