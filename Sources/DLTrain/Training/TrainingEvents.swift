/// Metrics of one finished epoch. `epoch` is 1-based.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var learningRate: Float
    /// Mean training loss and accuracy over the epoch's batches (training mode:
    /// dropout on, batch statistics, augmented inputs), as Keras reports them.
    public var trainLoss: Float
    public var trainAccuracy: Float
    /// Loss and accuracy on the dev set in inference mode (nil without a dev set).
    public var devLoss: Float?
    public var devAccuracy: Float?
    public var seconds: Double
    /// Training images per second over the epoch (excluding dev evaluation).
    public var imagesPerSecond: Double
    /// CPU time of the whole process during the epoch (user + system, every
    /// thread): with other work on the machine, seconds / cpuSeconds shows how
    /// much of it the run got.
    public var cpuSeconds: Double?
    /// Sequence models: greedy corpus BLEU on dev sentences (translation).
    public var devBLEU: Double?
    /// Sequence models: source plus target tokens per second of training
    /// (`imagesPerSecond` then counts sentence pairs).
    public var tokensPerSecond: Double?
    /// Detection models: VOC mAP@0.5 on the held-out dev images.
    public var devMAP50: Double?

    public init(epoch: Int, learningRate: Float, trainLoss: Float, trainAccuracy: Float, devLoss: Float? = nil,
                devAccuracy: Float? = nil, seconds: Double, imagesPerSecond: Double, cpuSeconds: Double? = nil,
                devBLEU: Double? = nil, tokensPerSecond: Double? = nil) {
        self.epoch = epoch
        self.learningRate = learningRate
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.devLoss = devLoss
        self.devAccuracy = devAccuracy
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
        self.cpuSeconds = cpuSeconds
        self.devBLEU = devBLEU
        self.tokensPerSecond = tokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case epoch, seconds
        case cpuSeconds = "cpu_seconds", devBLEU = "dev_bleu", tokensPerSecond = "tokens_per_second", devMAP50 = "dev_map50"
        case learningRate = "learning_rate", trainLoss = "train_loss", trainAccuracy = "train_accuracy"
        case devLoss = "dev_loss", devAccuracy = "dev_accuracy", imagesPerSecond = "images_per_second"
    }
}

/// Progress within an epoch, sent after every batch. Epoch and batch are
/// 1-based ("epoch 3 of 10, batch 120 of 844"); loss, accuracy and speed are
/// running values over the epoch so far.
public struct BatchProgress: Codable, Equatable, Sendable {
    public var epoch: Int
    public var epochs: Int
    public var batch: Int
    public var batches: Int
    public var loss: Float
    public var accuracy: Float
    public var imagesPerSecond: Double
    public var learningRate: Float
    /// Sequence models: source plus target tokens per second so far this epoch.
    public var tokensPerSecond: Double?

    public init(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Float, accuracy: Float,
                imagesPerSecond: Double, learningRate: Float, tokensPerSecond: Double? = nil) {
        self.epoch = epoch
        self.epochs = epochs
        self.batch = batch
        self.batches = batches
        self.loss = loss
        self.accuracy = accuracy
        self.imagesPerSecond = imagesPerSecond
        self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, batch, batches, loss, accuracy
        case imagesPerSecond = "images_per_second", learningRate = "learning_rate", tokensPerSecond = "tokens_per_second"
    }
}

/// What a trainer reports while it runs; the CLI draws a progress bar from it
/// and the job queue forwards it as server-sent events.
public enum TrainingEvent: Sendable {
    /// A batch finished.
    case batch(BatchProgress)
    /// An epoch finished (after dev evaluation).
    case epoch(EpochMetrics)
    /// Early stopping ended the run after `epoch`; weights of `bestEpoch` are restored.
    case earlyStop(epoch: Int, bestEpoch: Int)
}

/// The outcome of `Trainer.fit()`.
public struct TrainingSummary: Codable, Equatable, Sendable {
    public var history: [EpochMetrics]
    /// The epoch whose weights the model holds at the end (1-based): the best dev
    /// loss when early stopping is on, else the last epoch.
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    /// Wall time of the training epochs, including dev evaluation.
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Process CPU time of the epochs (see `EpochMetrics.cpuSeconds`).
    public var cpuSeconds: Double

    enum CodingKeys: String, CodingKey {
        case history, seconds
        case cpuSeconds = "cpu_seconds"
        case bestEpoch = "best_epoch", stoppedEarly = "stopped_early", imagesPerSecond = "images_per_second"
    }
}
