import DLNN
import DLTensor
import DLVision
import Foundation

/// The state of a detection run after a finished epoch: weights (with the
/// batch-norm statistics), Adam state, the epoch, the anchors and the
/// history. The shuffle, the augmentation and the learning rate derive from
/// the seed, the epoch and Adam's step, so a resumed run repeats the
/// uninterrupted one. One safetensors file (`CheckpointFile`), written atomically.
public struct DetectionCheckpoint: Sendable {
    public static let format = "dlserve-detection-training/1"
    static let key = "dlserve.detection"

    public var epochsCompleted: Int
    public var seed: UInt64
    public var anchors: [AnchorKMeans.Size]
    public var weights: [String: Tensor]
    public var optimizer: OptimizerState
    public var history: [DetectionTrainer.Epoch]

    public init(epochsCompleted: Int, seed: UInt64, anchors: [AnchorKMeans.Size], weights: [String: Tensor],
                optimizer: OptimizerState, history: [DetectionTrainer.Epoch]) {
        (self.epochsCompleted, self.seed, self.anchors) = (epochsCompleted, seed, anchors)
        (self.weights, self.optimizer, self.history) = (weights, optimizer, history)
    }

    struct Meta: CheckpointMetadata {
        var format: String
        var epochsCompleted: Int
        var seed: String
        var anchors: [AnchorKMeans.Size]
        var history: [DetectionTrainer.Epoch]
        var optimizerRule: String
        var optimizerSteps: [String: Int]
        var optimizerBuffers: [String: [String]]
    }

    public func save(to url: URL) throws {
        let meta = Meta(format: Self.format, epochsCompleted: epochsCompleted, seed: String(seed), anchors: anchors, history: history,
                        optimizerRule: optimizer.rule, optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.bufferNames)
        try AtomicFile.write(try CheckpointFile.encode(weights: weights, optimizer: optimizer, key: Self.key, metadata: meta), to: url)
    }

    public static func load(from url: URL) throws -> DetectionCheckpoint {
        let c: CheckpointFile.Contents<Meta> = try CheckpointFile.read(url, key: key, kind: "detection training", format: format)
        return DetectionCheckpoint(epochsCompleted: c.meta.epochsCompleted, seed: try CheckpointFile.seed(c.meta.seed, what: url.path),
                                   anchors: c.meta.anchors, weights: c.weights, optimizer: c.optimizer, history: c.meta.history)
    }
}
