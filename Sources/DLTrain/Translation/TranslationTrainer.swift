import DLKernels
import DLNN
import DLTensor
import Foundation

/// Teacher-forced training of a sequence-to-sequence `GraphModel` (inputs
/// "src" and "tgt", output logits [N, T, V]) on batches by length, with Adam,
/// a warm-up + inverse-square-root schedule per update, gradient clipping and
/// label smoothing. After each epoch: dev loss and token accuracy, optionally
/// greedy BLEU, then `epochFinished` with a checkpoint.
public final class TranslationTrainer {
    public struct Options: Sendable {
        public var epochs: Int
        public var seed: UInt64
        public var batchTokens: Int
        public var labelSmoothing: Float
        public var optimizer: TranslationRecipe.OptimizerSection

        public init(epochs: Int, seed: UInt64 = 1, batchTokens: Int = 4096, labelSmoothing: Float = 0.1,
                    optimizer: TranslationRecipe.OptimizerSection = .init()) {
            self.epochs = epochs
            self.seed = seed
            self.batchTokens = batchTokens
            self.labelSmoothing = labelSmoothing
            self.optimizer = optimizer
        }
    }

    /// Reported after every batch.
    public struct Progress: Sendable {
        public var epoch: Int
        public var batch: Int
        public var batches: Int
        public var loss: Float
        /// Target-token accuracy of this batch (argmax, training mode).
        public var accuracy: Float
        public var learningRate: Float
        /// Source plus target tokens per second so far in this epoch.
        public var tokensPerSecond: Double
        /// Sentence pairs per second so far in this epoch.
        public var pairsPerSecond: Double
    }

    public let model: GraphModel
    public let optimizer: Optimizer
    public let options: Options
    public let train: [EncodedPair]
    public let dev: [EncodedPair]
    public let batches: [[Int]]
    let schedule: WarmupInverseSquareRoot
    /// Greedy BLEU on dev pairs: (source ids, reference text) and a decoder of target ids to text.
    public var bleu: (pairs: [(source: [Int], reference: String)], detokenize: ([Int]) -> String)?

    public private(set) var epochsCompleted = 0
    public private(set) var history: [TranslationEpoch] = []
    public var subwordsDirectory = ""
    public var onProgress: ((Progress) -> Void)?
    public var onEpoch: ((TranslationEpoch) -> Void)?
    public var epochFinished: ((TranslationCheckpoint) throws -> Void)?
    public var isCancelled: () -> Bool = { false }

    public init(model: GraphModel, train: [EncodedPair], dev: [EncodedPair], options: Options) {
        precondition(!train.isEmpty, "TranslationTrainer: no training pairs")
        self.model = model
        self.train = train
        self.dev = dev
        self.options = options
        let o = options.optimizer
        optimizer = Optimizer(rule: Adam(beta1: o.beta1, beta2: o.beta2, eps: o.eps), learningRate: o.lr, clipNorm: o.clipNorm)
        schedule = WarmupInverseSquareRoot(warmupSteps: o.warmupSteps)
        batches = TranslationBatching.batches(train, batchTokens: options.batchTokens)
    }

    /// Updates so far (Adam's step count).
    public var step: Int { optimizer.state.parameters.values.map(\.step).max() ?? 0 }

    public func checkpoint() -> TranslationCheckpoint {
        TranslationCheckpoint(epochsCompleted: epochsCompleted, seed: options.seed, subwordsDirectory: subwordsDirectory,
                              weights: Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, Tensor(shape: $0.tensor.shape, data: $0.tensor.data)) }),
                              optimizer: optimizer.state, history: history)
    }

    /// Continues after the checkpoint's epoch.
    public func resume(from c: TranslationCheckpoint) throws {
        guard c.seed == options.seed else { throw TrainingError.checkpoint("seed \(c.seed) differs from the recipe's \(options.seed)") }
        do { try model.loadStateDict(c.weights) } catch let e as ModelError { throw TrainingError.checkpoint("\(e)") }
        try optimizer.load(c.optimizer)
        epochsCompleted = c.epochsCompleted
        history = c.history
        subwordsDirectory = c.subwordsDirectory
    }

    /// Trains the remaining epochs; returns the whole history.
    @discardableResult
    public func fit() throws -> [TranslationEpoch] {
        while epochsCompleted < options.epochs {
            let e = try trainEpoch(epochsCompleted)
            history.append(e)
            epochsCompleted += 1
            onEpoch?(e)
            try epochFinished?(checkpoint())
        }
        return history
    }

    func trainEpoch(_ epoch: Int) throws -> TranslationEpoch {
        let start = Date()
        var lossSum: Double = 0, lossTokens = 0, tokens = 0, pairs = 0, right = 0
        let order = TranslationBatching.epochOrder(batches, seed: options.seed, epoch: epoch)
        for (b, indices) in order.enumerated() {
            if isCancelled() { throw TrainingError.cancelled }
            let batch = TranslationBatch(indices.map { train[$0] })
            optimizer.learningRate = schedule.learningRate(options.optimizer.lr, step: step + 1)
            let ctx = ForwardContext(training: true, seed: SeedStream.derive(options.seed, .dropout, epoch: epoch, batch: b))
            let logits = model(inputs: batch.inputs, ctx)[model.spec.output]!
            let loss = sequenceCrossEntropy(logits: logits, targets: batch.tgtOut, ignoreIndex: TranslationBatch.padding,
                                            labelSmoothing: options.labelSmoothing)
            guard loss.scalar.isFinite else { throw TrainingError.diverged(epoch: epoch, batch: b, loss: loss.scalar) }
            loss.backward()
            optimizer.step(model.namedParameters)
            lossSum += Double(loss.scalar) * Double(batch.targetTokens)
            lossTokens += batch.targetTokens
            tokens += batch.sourceTokens + batch.targetTokens
            pairs += indices.count
            let batchRight = TranslationEvaluation.correctTokens(logits, targets: batch.tgtOut)
            right += batchRight
            let elapsed = max(Date().timeIntervalSince(start), 1e-9)
            onProgress?(Progress(epoch: epoch, batch: b, batches: order.count, loss: loss.scalar,
                                 accuracy: Float(batchRight) / Float(max(batch.targetTokens, 1)), learningRate: optimizer.learningRate,
                                 tokensPerSecond: Double(tokens) / elapsed, pairsPerSecond: Double(pairs) / elapsed))
        }
        let seconds = Date().timeIntervalSince(start)
        let d = TranslationEvaluation.teacherForced(model, dev, batchTokens: options.batchTokens)
        var bleuScore: Double?
        if let bleu, !bleu.pairs.isEmpty {
            let hyps = try TranslationEvaluation.greedy(model, sources: bleu.pairs.map(\.source), batchSize: 32)
            bleuScore = try? TranslationEvaluation.bleu(hypotheses: hyps.map(bleu.detokenize), references: bleu.pairs.map(\.reference))
        }
        return TranslationEpoch(epoch: epoch + 1, trainLoss: Float(lossSum / Double(max(lossTokens, 1))),
                                trainAccuracy: Float(right) / Float(max(lossTokens, 1)), devLoss: d.loss,
                                devAccuracy: d.accuracy, devBLEU: bleuScore, seconds: seconds,
                                tokensPerSecond: Double(tokens) / max(seconds, 1e-9),
                                pairsPerSecond: Double(pairs) / max(seconds, 1e-9), learningRate: optimizer.learningRate)
    }
}
