import DLTensor

/// The hyperparameters of one training run (what a `Recipe` resolves to).
public struct TrainingConfig: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// Seeds the per-epoch shuffle, augmentation and dropout (see `SeedStream`).
    public var seed: UInt64
    /// lr0; the rate of epoch e is `schedule.learningRate(learningRate, epoch: e)`.
    public var learningRate: Float
    public var schedule: LearningRateSchedule
    public var rule: UpdateRule
    /// The course's lambda. The optimizer adds (lambda / m) * W to weight
    /// gradients with m = the number of training examples (see `Optimizer`).
    public var l2: Float
    /// Clip gradients to this global L2 norm (nil = off).
    public var clipNorm: Float?
    /// Stop after this many epochs without a better dev loss and restore the
    /// best weights (nil = off; needs a dev set).
    public var earlyStoppingPatience: Int?
    /// A dev loss counts as better when it is below best - minDelta.
    public var earlyStoppingMinDelta: Float
    /// Applied to training batches only.
    public var augmentation: Augmentation
    /// Applied to every batch (train, dev, evaluation); nil = raw [0, 1] pixels.
    public var normalization: Normalization?
    /// OpenBLAS threads while training (nil = leave as is). OpenBLAS's count is
    /// process-wide: a daemon that trains next to inference should pass 1.
    /// Runs repeat exactly only with the same thread count.
    public var blasThreads: Int?
    /// Batch size for dev evaluation (inference only; does not change results).
    public var evaluationBatchSize: Int

    public init(
        epochs: Int, batchSize: Int, seed: UInt64 = 0, learningRate: Float, schedule: LearningRateSchedule = .constant,
        rule: UpdateRule = Adam(), l2: Float = 0, clipNorm: Float? = nil, earlyStoppingPatience: Int? = nil,
        earlyStoppingMinDelta: Float = 0, augmentation: Augmentation = Augmentation(), normalization: Normalization? = nil,
        blasThreads: Int? = nil, evaluationBatchSize: Int = 500
    ) {
        precondition(epochs >= 1 && batchSize >= 1, "TrainingConfig: epochs \(epochs), batch size \(batchSize)")
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.learningRate = learningRate
        self.schedule = schedule
        self.rule = rule
        self.l2 = l2
        self.clipNorm = clipNorm
        self.earlyStoppingPatience = earlyStoppingPatience
        self.earlyStoppingMinDelta = earlyStoppingMinDelta
        self.augmentation = augmentation
        self.normalization = normalization
        self.blasThreads = blasThreads
        self.evaluationBatchSize = evaluationBatchSize
    }
}

/// Independent, reproducible random streams derived from the run's seed, so
/// that epoch e's shuffle, augmentation and dropout depend only on (seed, e, batch)
/// and not on how many numbers earlier epochs drew. This is what makes a
/// resumed run identical to an uninterrupted one: the "rng state" of a
/// checkpoint is the seed and the next epoch.
public enum SeedStream {
    public enum Purpose: UInt64 { case shuffle = 1, augmentation = 2, dropout = 3, initialization = 4, split = 5 }

    /// One SplitMix64 step per input, chained: a different seed, purpose,
    /// epoch or batch gives an unrelated stream.
    public static func derive(_ seed: UInt64, _ purpose: Purpose, epoch: Int = 0, batch: Int = 0) -> UInt64 {
        func mix(_ x: UInt64) -> UInt64 {
            var z = x &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var z = mix(seed)
        for v in [purpose.rawValue, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: batch)] {
            z = mix(z ^ v)
        }
        return z
    }

    public static func generator(_ seed: UInt64, _ purpose: Purpose, epoch: Int = 0, batch: Int = 0) -> SeededGenerator {
        SeededGenerator(seed: derive(seed, purpose, epoch: epoch, batch: batch))
    }
}
