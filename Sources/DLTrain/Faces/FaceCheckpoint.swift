import DLNN
import DLTensor
import Foundation

/// The state of a face-embedding run after a finished epoch: weights (with
/// the batch-norm statistics and the siamese head, if any), Adam state, the
/// epoch and the history. Batches, augmentation and the learning rate derive
/// from the seed, the epoch and the step, so a resumed run repeats the
/// uninterrupted one. One safetensors file (`CheckpointFile`), written atomically.
public struct FaceCheckpoint: Sendable {
    public static let format = "dlserve-embedding-training/1"
    static let key = "dlserve.embedding"

    public var epochsCompleted: Int
    public var seed: UInt64
    public var weights: [String: Tensor]
    public var optimizer: OptimizerState
    public var history: [FaceTrainer.Epoch]

    public init(epochsCompleted: Int, seed: UInt64, weights: [String: Tensor], optimizer: OptimizerState, history: [FaceTrainer.Epoch]) {
        (self.epochsCompleted, self.seed, self.weights, self.optimizer, self.history) = (epochsCompleted, seed, weights, optimizer, history)
    }

    struct Meta: CheckpointMetadata {
        var format: String
        var epochsCompleted: Int
        var seed: String
        var history: [FaceTrainer.Epoch]
        var optimizerRule: String
        var optimizerSteps: [String: Int]
        var optimizerBuffers: [String: [String]]
    }

    public func save(to url: URL) throws {
        let meta = Meta(format: Self.format, epochsCompleted: epochsCompleted, seed: String(seed), history: history,
                        optimizerRule: optimizer.rule, optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.bufferNames)
        try AtomicFile.write(try CheckpointFile.encode(weights: weights, optimizer: optimizer, key: Self.key, metadata: meta), to: url)
    }

    public static func load(from url: URL) throws -> FaceCheckpoint {
        let c: CheckpointFile.Contents<Meta> = try CheckpointFile.read(url, key: key, kind: "embedding training", format: format)
        return FaceCheckpoint(epochsCompleted: c.meta.epochsCompleted, seed: try CheckpointFile.seed(c.meta.seed, what: url.path),
                              weights: c.weights, optimizer: c.optimizer, history: c.meta.history)
    }
}
