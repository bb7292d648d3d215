import DLNN
import DLTensor
import Foundation

/// One finished epoch of a translation run.
public struct TranslationEpoch: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean label-smoothed training loss over the epoch's target tokens.
    public var trainLoss: Float
    /// Fraction of training target tokens whose argmax was right (training
    /// mode, over the epoch; nil in checkpoints of older runs).
    public var trainAccuracy: Float?
    /// Teacher-forced dev cross-entropy (no smoothing) and token accuracy.
    public var devLoss: Float
    public var devAccuracy: Float
    /// Greedy corpus BLEU on the first `data.bleu_sentences` dev pairs (when > 0).
    public var devBLEU: Double?
    public var seconds: Double
    /// Source plus target tokens per second of training.
    public var tokensPerSecond: Double
    /// Sentence pairs per second of training (nil in checkpoints of older runs).
    public var pairsPerSecond: Double?
    /// The learning rate of the epoch's last update (nil in older checkpoints).
    public var learningRate: Float?

    enum CodingKeys: String, CodingKey {
        case epoch, seconds
        case trainLoss = "train_loss", trainAccuracy = "train_accuracy", devLoss = "dev_loss", devAccuracy = "dev_accuracy", devBLEU = "dev_bleu"
        case tokensPerSecond = "tokens_per_second", pairsPerSecond = "pairs_per_second", learningRate = "learning_rate"
    }
}

/// The state of a translation run after a finished epoch: weights, Adam
/// state, the epoch, the history and where the subword files are (learned
/// once, before the first epoch; a resumed run loads them instead of
/// learning again). The batch order and dropout derive from the seed and
/// the epoch (`SeedStream`), so a resumed run matches an uninterrupted one.
///
/// One safetensors file, written atomically: `model/<param>`,
/// `optimizer/<param>/<buffer>`, and `__metadata__["dlserve.translation"]`.
public struct TranslationCheckpoint: Sendable {
    public static let format = "dlserve-translation-training/1"

    public var epochsCompleted: Int
    public var seed: UInt64
    public var subwordsDirectory: String
    public var weights: [String: Tensor]
    public var optimizer: OptimizerState
    public var history: [TranslationEpoch]

    public init(epochsCompleted: Int, seed: UInt64, subwordsDirectory: String, weights: [String: Tensor],
                optimizer: OptimizerState, history: [TranslationEpoch]) {
        self.epochsCompleted = epochsCompleted
        self.seed = seed
        self.subwordsDirectory = subwordsDirectory
        self.weights = weights
        self.optimizer = optimizer
        self.history = history
    }

    struct Meta: CheckpointMetadata {
        var format: String
        var epochsCompleted: Int
        var seed: String
        var subwordsDirectory: String
        var history: [TranslationEpoch]
        var optimizerRule: String
        var optimizerSteps: [String: Int]
        var optimizerBuffers: [String: [String]]
    }

    public func save(to url: URL) throws {
        let meta = Meta(format: Self.format, epochsCompleted: epochsCompleted, seed: String(seed),
                        subwordsDirectory: subwordsDirectory, history: history, optimizerRule: optimizer.rule,
                        optimizerSteps: optimizer.steps, optimizerBuffers: optimizer.bufferNames)
        try AtomicFile.write(try CheckpointFile.encode(weights: weights, optimizer: optimizer, key: "dlserve.translation", metadata: meta),
                             to: url)
    }

    public static func load(from url: URL) throws -> TranslationCheckpoint {
        let c: CheckpointFile.Contents<Meta> = try CheckpointFile.read(url, key: "dlserve.translation", kind: "translation training",
                                                                       format: format)
        return TranslationCheckpoint(epochsCompleted: c.meta.epochsCompleted, seed: try CheckpointFile.seed(c.meta.seed, what: url.path),
                                     subwordsDirectory: c.meta.subwordsDirectory, weights: c.weights, optimizer: c.optimizer,
                                     history: c.meta.history)
    }
}
