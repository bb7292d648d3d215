import DLKernels
import DLNN
import DLTensor
import Foundation

/// Mini-batch training of a classifier with softmax cross-entropy.
///
/// Each epoch: the learning rate from the schedule; a shuffle of the training
/// set drawn from (seed, epoch); for every batch, gather, augment (training
/// only), normalize, forward in training mode with dropout seeded by
/// (seed, epoch, batch), backward, one optimizer step, a cancellation check and
/// a progress event; then the dev set in inference mode, early stopping on the
/// dev loss, an epoch event and the `epochFinished` hook (where callers save a
/// `TrainingCheckpoint`). A NaN or infinite loss throws `TrainingError.diverged`.
///
/// Because every random stream is derived from (seed, epoch, batch) and the
/// checkpoint holds weights, buffers, optimizer state and early-stopping
/// state, `resume(from:)` followed by `fit()` produces exactly the weights and
/// metrics of an uninterrupted run (with the same BLAS thread count).
public final class Trainer {
    public let model: GraphModel
    public let train: Dataset
    public let dev: Dataset?
    public let config: TrainingConfig
    public let optimizer: Optimizer

    /// Called with every event, on the training thread.
    public var onEvent: ((TrainingEvent) -> Void)?
    /// Polled before every batch; returning true stops the run with `TrainingError.cancelled`.
    public var isCancelled: (() -> Bool)?
    /// Called after every epoch with the state to resume from; throwing stops the run.
    public var epochFinished: ((TrainingCheckpoint) throws -> Void)?

    public private(set) var history: [EpochMetrics] = []
    /// Epochs completed so far (the next epoch's 0-based index).
    public private(set) var epochsCompleted = 0
    public private(set) var best: TrainingCheckpoint.Best?
    public private(set) var epochsWithoutImprovement = 0
    public private(set) var stoppedEarly = false

    public init(model: GraphModel, train: Dataset, dev: Dataset?, config: TrainingConfig) {
        precondition(model.accepts(train.imageShape),
                     "Trainer: images \(train.imageShape) do not fit the model's input \(model.spec.inputShape)")
        precondition(model.outputShape == [train.classes.count],
                     "Trainer: model output \(model.outputShape) for \(train.classes.count) classes")
        self.model = model
        self.train = train
        self.dev = dev
        self.config = config
        // L2 as in the course: lambda / m with m the number of training examples.
        self.optimizer = Optimizer(
            rule: config.rule, learningRate: config.learningRate,
            l2: config.l2 / Float(max(train.count, 1)), clipNorm: config.clipNorm)
    }

    /// Number of batches per epoch (the last one may be smaller).
    public var batchesPerEpoch: Int { (train.count + config.batchSize - 1) / config.batchSize }

    // MARK: running

    /// Trains from the current state (fresh, or after `resume(from:)`) to the
    /// last epoch or an early stop.
    public func fit() throws -> TrainingSummary {
        let previousThreads = Kernels.blasThreads
        if let t = config.blasThreads { Kernels.setBLASThreads(t) }
        defer { if config.blasThreads != nil { Kernels.setBLASThreads(previousThreads) } }

        while epochsCompleted < config.epochs && !stoppedEarly {
            let metrics = try runEpoch(epochsCompleted)
            history.append(metrics)
            epochsCompleted += 1
            updateEarlyStopping(metrics)
            onEvent?(.epoch(metrics))
            if stoppedEarly, let b = best { onEvent?(.earlyStop(epoch: metrics.epoch, bestEpoch: b.epoch)) }
            try epochFinished?(checkpoint())
        }
        // Early stopping keeps the best weights, whether or not it stopped the run.
        if config.earlyStoppingPatience != nil, let b = best, b.epoch != epochsCompleted {
            try model.loadStateDict(b.weights)
        }
        let seconds = history.reduce(0) { $0 + $1.seconds }
        let trainSeconds = history.reduce(0) { $0 + Double(train.count) / max($1.imagesPerSecond, 1e-9) }
        return TrainingSummary(
            history: history, bestEpoch: (config.earlyStoppingPatience != nil ? best?.epoch : nil) ?? epochsCompleted,
            stoppedEarly: stoppedEarly, seconds: seconds,
            imagesPerSecond: trainSeconds > 0 ? Double(train.count * history.count) / trainSeconds : 0,
            cpuSeconds: history.reduce(0) { $0 + ($1.cpuSeconds ?? 0) })
    }

    func runEpoch(_ epoch: Int) throws -> EpochMetrics {
        let start = Date(), startCPU = Trainer.processCPUSeconds()
        let lr = config.schedule.learningRate(config.learningRate, epoch: epoch)
        optimizer.learningRate = lr
        var shuffleRNG = SeedStream.generator(config.seed, .shuffle, epoch: epoch)
        var augmentRNG = SeedStream.generator(config.seed, .augmentation, epoch: epoch)
        let order = Array(0..<train.count).shuffledSeeded(&shuffleRNG)
        let parameters = model.namedParameters
        let batches = batchesPerEpoch
        var lossSum: Double = 0, correct = 0, seen = 0
        for b in 0..<batches {
            if isCancelled?() == true { throw TrainingError.cancelled }
            let idx = Array(order[(b * config.batchSize)..<min((b + 1) * config.batchSize, train.count)])
            let labels = idx.map { train.labels[$0] }
            let x = Dataset.trimPadding(train.gather(idx))
            var data = x.data
            if x.rank == 4 { config.augmentation.apply(&data, shape: x.shape, rng: &augmentRNG) }
            config.normalization?.apply(&data, shape: x.shape)
            let ctx = ForwardContext(training: true, seed: SeedStream.derive(config.seed, .dropout, epoch: epoch, batch: b))
            let logits = model(Tensor(shape: x.shape, data: data), ctx)
            let loss = softmaxCrossEntropy(logits: logits, labels: labels)
            let value = loss.scalar
            guard value.isFinite else {
                Optimizer.zeroGrad(parameters)
                throw TrainingError.diverged(epoch: epoch, batch: b, loss: value)
            }
            loss.backward()
            optimizer.step(parameters)
            lossSum += Double(value) * Double(idx.count)
            correct += zip(logits.argmaxLastAxis(), labels).filter { $0 == $1 }.count
            seen += idx.count
            let elapsed = Date().timeIntervalSince(start)
            onEvent?(.batch(BatchProgress(
                epoch: epoch + 1, epochs: config.epochs, batch: b + 1, batches: batches,
                loss: Float(lossSum / Double(seen)), accuracy: Float(correct) / Float(seen),
                imagesPerSecond: elapsed > 0 ? Double(seen) / elapsed : 0, learningRate: lr)))
        }
        let trainSeconds = Date().timeIntervalSince(start)
        var devLoss: Float?, devAccuracy: Float?
        if let dev {
            let e = Evaluator.evaluate(model, on: dev, normalization: config.normalization, batchSize: config.evaluationBatchSize)
            devLoss = e.loss
            devAccuracy = e.accuracy
            guard e.loss.isFinite else { throw TrainingError.diverged(epoch: epoch, batch: batches - 1, loss: e.loss) }
        }
        return EpochMetrics(
            epoch: epoch + 1, learningRate: lr,
            trainLoss: Float(lossSum / Double(max(seen, 1))), trainAccuracy: Float(correct) / Float(max(seen, 1)),
            devLoss: devLoss, devAccuracy: devAccuracy, seconds: Date().timeIntervalSince(start),
            imagesPerSecond: trainSeconds > 0 ? Double(seen) / trainSeconds : 0,
            cpuSeconds: Trainer.processCPUSeconds() - startCPU)
    }

    /// User + system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(u.ru_utime) + s(u.ru_stime)
    }

    /// Tracks the best dev loss and decides whether patience has run out.
    /// Without a dev set nothing is tracked: the last epoch's weights are kept.
    func updateEarlyStopping(_ m: EpochMetrics) {
        guard let score = m.devLoss else { return }
        if let b = best, !(score < b.devLoss - config.earlyStoppingMinDelta) {
            epochsWithoutImprovement += 1
            if let p = config.earlyStoppingPatience, epochsWithoutImprovement >= p { stoppedEarly = true }
        } else {
            epochsWithoutImprovement = 0
            // Keep a copy of the weights only when they may be restored.
            let keep = config.earlyStoppingPatience != nil
            best = TrainingCheckpoint.Best(epoch: m.epoch, devLoss: score, weights: keep ? snapshot() : [:])
        }
    }

    func snapshot() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, $0.tensor.detached()) })
    }

    // MARK: checkpoints

    /// The complete state after the last finished epoch.
    public func checkpoint() -> TrainingCheckpoint {
        TrainingCheckpoint(
            epochsCompleted: epochsCompleted, seed: config.seed, batchSize: config.batchSize, trainCount: train.count,
            weights: snapshot(), optimizer: optimizer.state, history: history, best: best,
            epochsWithoutImprovement: epochsWithoutImprovement, stoppedEarly: stoppedEarly)
    }

    /// Restores the state of a checkpoint of the same run (same seed, batch
    /// size and training set size); `fit()` then continues with the next epoch.
    public func resume(from c: TrainingCheckpoint) throws {
        guard c.seed == config.seed else { throw TrainingError.checkpoint("seed \(c.seed) differs from the run's \(config.seed)") }
        guard c.batchSize == config.batchSize else {
            throw TrainingError.checkpoint("batch size \(c.batchSize) differs from the run's \(config.batchSize)")
        }
        guard c.trainCount == train.count else {
            throw TrainingError.checkpoint("trained on \(c.trainCount) images, this run has \(train.count)")
        }
        guard c.epochsCompleted <= config.epochs, c.history.count == c.epochsCompleted else {
            throw TrainingError.checkpoint("\(c.epochsCompleted) epochs done with \(c.history.count) in the history, of \(config.epochs)")
        }
        do {
            try model.loadStateDict(c.weights)
            if let b = c.best, !b.weights.isEmpty { try StateDict.check(expected: model.stateDict.map { ($0.name, $0.tensor.shape) }, provided: b.weights.mapValues(\.shape)) }
        } catch let e as ModelError {
            throw TrainingError.checkpoint("weights do not fit the model: \(e)")
        }
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.tensor.count) })
        for (name, s) in c.optimizer.parameters {
            guard let n = shapes[name] else { throw TrainingError.checkpoint("optimizer state for unknown parameter '\(name)'") }
            for (buf, v) in s.buffers where v.count != n {
                throw TrainingError.checkpoint("optimizer buffer '\(name)/\(buf)' has \(v.count) values, the parameter \(n)")
            }
        }
        try optimizer.load(c.optimizer)
        history = c.history
        epochsCompleted = c.epochsCompleted
        best = c.best
        epochsWithoutImprovement = c.epochsWithoutImprovement
        stoppedEarly = c.stoppedEarly
    }
}
