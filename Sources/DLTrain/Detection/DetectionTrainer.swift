import DLKernels
import DLNN
import DLTensor
import DLVision
import Foundation

/// One training image and its objects (boxes in the image's pixels).
public struct DetectionScene: Sendable {
    public var image: Image
    public var objects: [Detection]
    public init(image: Image, objects: [Detection]) { (self.image, self.objects) = (image, objects) }
}

/// Trains a YOLO-style detector: a `GraphModel` from an image [3, H, W]
/// (values / 255) to the head [A * (5 + C), H / stride, W / stride]. Each
/// batch is augmented (`DetectionAugmentation`, boxes moved with the pixels),
/// turned into targets by `YOLOGrid.assign` and scored by `yoloLoss`; Adam
/// with a linear warm-up and cosine decay per update, gradient clipping.
public final class DetectionTrainer {
    public struct Options: Sendable {
        public var epochs: Int
        public var batchSize: Int
        public var learningRate: Float
        public var warmupSteps: Int
        public var clipNorm: Float?
        public var seed: UInt64
        public var augmentation: DetectionAugmentation
        public var lossWeights: YOLOLossWeights
        public var ignoreIoU: Double

        public init(epochs: Int, batchSize: Int = 16, learningRate: Float = 1e-3, warmupSteps: Int = 100, clipNorm: Float? = 10,
                    seed: UInt64 = 1, augmentation: DetectionAugmentation = .init(), lossWeights: YOLOLossWeights = .init(),
                    ignoreIoU: Double = 0.5) {
            (self.epochs, self.batchSize, self.learningRate, self.warmupSteps, self.clipNorm, self.seed) =
                (epochs, batchSize, learningRate, warmupSteps, clipNorm, seed)
            (self.augmentation, self.lossWeights, self.ignoreIoU) = (augmentation, lossWeights, ignoreIoU)
        }
    }

    /// Mean loss terms of one epoch.
    public struct Epoch: Sendable, Codable, Equatable {
        public var epoch: Int
        public var loss: Double
        public var boxLoss: Double
        public var objectLoss: Double
        public var classLoss: Double
        public var seconds: Double
        public var imagesPerSecond: Double
        /// VOC mAP@0.5 on the held-out dev images after the epoch (nil without them).
        public var devMAP50: Double?
        /// The learning rate of the epoch's last update.
        public var learningRate: Float?

        enum CodingKeys: String, CodingKey {
            case epoch, loss, seconds
            case boxLoss = "box_loss", objectLoss = "object_loss", classLoss = "class_loss", imagesPerSecond = "images_per_second"
            case devMAP50 = "dev_map50", learningRate = "learning_rate"
        }
    }

    public let model: GraphModel
    public let grid: YOLOGrid
    public let letterbox: Letterbox
    public let options: Options
    public let optimizer: Optimizer
    public let train: [DetectionScene]
    /// Held-out images scored (mAP@0.5) after every epoch.
    public var dev: [DetectionScene] = []
    public private(set) var history: [Epoch] = []
    public var epochsCompleted: Int { history.count }
    public var onEpoch: ((Epoch) -> Void)?
    /// Called after every finished batch (1-based batch, of `batches`).
    public var onProgress: ((Progress) -> Void)?
    /// Called with a checkpoint after every epoch (after `onEpoch`).
    public var epochFinished: ((DetectionCheckpoint) throws -> Void)?
    public var isCancelled: () -> Bool = { false }

    /// One finished batch.
    public struct Progress: Sendable {
        public var epoch: Int
        public var batch: Int
        public var batches: Int
        public var loss: Double
        public var learningRate: Float
        public var imagesPerSecond: Double
    }

    public init(model: GraphModel, grid: YOLOGrid, train: [DetectionScene], options: Options) {
        precondition(!train.isEmpty && options.batchSize > 0 && options.epochs >= 0, "DetectionTrainer: no scenes or a bad batch size")
        self.model = model
        self.grid = grid
        self.letterbox = grid.letterbox
        self.train = train
        self.options = options
        optimizer = Optimizer(rule: Adam(), learningRate: options.learningRate, clipNorm: options.clipNorm)
    }

    var totalSteps: Int { options.epochs * ((train.count + options.batchSize - 1) / options.batchSize) }

    /// Linear warm-up over `warmupSteps`, then cosine decay to 0 at the last update.
    func learningRate(step: Int) -> Float {
        WarmupCosine(warmupSteps: options.warmupSteps, totalSteps: totalSteps).learningRate(options.learningRate, step: step)
    }

    /// Network input [n, 3, H, W] (values / 255) and the loss targets of scenes.
    public func batch(_ scenes: [DetectionScene], augmentation: DetectionAugmentation,
                      rng: inout SeededGenerator) -> (input: Tensor, targets: YOLOTargets, objects: [[Detection]]) {
        let plane = 3 * grid.inputWidth * grid.inputHeight
        var data = [Float](repeating: 0, count: scenes.count * plane)
        var targets = grid.emptyTargets(batch: scenes.count)
        var moved: [[Detection]] = []
        for (i, s) in scenes.enumerated() {
            let (chw, objects) = augmentation.apply(s.image, objects: s.objects, letterbox: letterbox, rng: &rng)
            for j in 0..<plane { data[i * plane + j] = chw[j] / 255 }
            grid.assign(objects, image: i, into: &targets, ignoreIoU: options.ignoreIoU)
            moved.append(objects)
        }
        return (Tensor(shape: [scenes.count, 3, grid.inputHeight, grid.inputWidth], data: data), targets, moved)
    }

    public func checkpoint() -> DetectionCheckpoint {
        DetectionCheckpoint(epochsCompleted: epochsCompleted, seed: options.seed, anchors: grid.anchors,
                            weights: Dictionary(uniqueKeysWithValues: model.stateDict.map { ($0.name, Tensor(shape: $0.tensor.shape, data: $0.tensor.data)) }),
                            optimizer: optimizer.state, history: history)
    }

    /// Continues after the checkpoint's epoch (same seed and anchors).
    public func resume(from c: DetectionCheckpoint) throws {
        guard c.seed == options.seed else { throw TrainingError.checkpoint("seed \(c.seed) differs from the recipe's \(options.seed)") }
        guard c.anchors == grid.anchors else { throw TrainingError.checkpoint("anchors \(c.anchors) differ from this run's \(grid.anchors)") }
        guard c.epochsCompleted == c.history.count, c.epochsCompleted <= options.epochs else {
            throw TrainingError.checkpoint("\(c.epochsCompleted) epochs completed, \(c.history.count) in the history, \(options.epochs) planned")
        }
        do { try model.loadStateDict(c.weights) } catch let e as ModelError { throw TrainingError.checkpoint("\(e)") }
        try optimizer.load(c.optimizer)
        history = c.history
    }

    /// Trains the remaining epochs; returns the whole history.
    @discardableResult
    public func fit() throws -> [Epoch] {
        while history.count < options.epochs {
            history.append(try trainEpoch(history.count))
            onEpoch?(history.last!)
            try epochFinished?(checkpoint())
        }
        return history
    }

    func trainEpoch(_ epoch: Int) throws -> Epoch {
        let start = Date()
        var rng = SeededGenerator(seed: SeedStream.derive(options.seed, .shuffle, epoch: epoch, batch: 0))
        let order = train.indices.shuffled(using: &rng)
        var sums = YOLOLossTerms(), batches = 0, seen = 0
        let total = (order.count + options.batchSize - 1) / options.batchSize
        for (b, first) in stride(from: 0, to: order.count, by: options.batchSize).enumerated() {
            if isCancelled() { throw TrainingError.cancelled }
            let scenes = order[first..<min(first + options.batchSize, order.count)].map { train[$0] }
            let (x, assigned, objects) = batch(scenes, augmentation: options.augmentation, rng: &rng)
            var targets = assigned
            optimizer.learningRate = learningRate(step: optimizer.state.parameters.values.map(\.step).max().map { $0 + 1 } ?? 1)
            let ctx = ForwardContext(training: true, seed: SeedStream.derive(options.seed, .dropout, epoch: epoch, batch: b))
            let head = model(inputs: [model.spec.inputs[0].name: x], ctx)[model.spec.output]!
            if options.ignoreIoU < 1 {
                head.data.withUnsafeBufferPointer { out in
                    for i in objects.indices {
                        grid.ignoreOverlapping(out, image: i, objects: objects[i], into: &targets, threshold: options.ignoreIoU)
                    }
                }
            }
            let (loss, terms) = yoloLoss(head, targets: targets, classes: grid.classes, weights: options.lossWeights)
            guard loss.scalar.isFinite else { throw TrainingError.diverged(epoch: epoch, batch: b, loss: loss.scalar) }
            loss.backward()
            optimizer.step(model.namedParameters)
            sums.box += terms.box; sums.object += terms.object + terms.noObject; sums.classes += terms.classes
            batches += 1
            seen += scenes.count
            onProgress?(Progress(epoch: epoch + 1, batch: b + 1, batches: total, loss: Double(loss.scalar),
                                 learningRate: optimizer.learningRate,
                                 imagesPerSecond: Double(seen) / max(Date().timeIntervalSince(start), 1e-9)))
        }
        let seconds = Date().timeIntervalSince(start), n = Double(max(batches, 1))
        return Epoch(epoch: epoch + 1, loss: (sums.box + sums.object + sums.classes) / n, boxLoss: sums.box / n,
                     objectLoss: sums.object / n, classLoss: sums.classes / n, seconds: seconds,
                     imagesPerSecond: Double(train.count) / max(seconds, 1e-9),
                     devMAP50: dev.isEmpty ? nil : benchmark(dev).vocMeanAveragePrecision().mean, learningRate: optimizer.learningRate)
    }

    /// The model as a `Detector` (inference mode).
    public var detector: Detector { Detector(grid: grid, model: model) }

    public func detect(_ images: [Image], filter: DetectionFilter, batchSize: Int = 16) -> [[Detection]] {
        detector.detect(images, filter: filter, batchSize: batchSize)
    }

    public func benchmark(_ scenes: [DetectionScene], filter: DetectionFilter = .init(scoreThreshold: 0.01, iouThreshold: 0.5)) -> DetectionBenchmark {
        detector.benchmark(scenes, filter: filter)
    }
}
