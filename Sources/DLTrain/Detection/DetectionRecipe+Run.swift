import DLKernels
import DLNN
import DLVision
import Foundation

extension DetectionRecipe {
    /// The head geometry a version ships as `detection.json`.
    public static let geometryFileName = "detection.json"

    /// Checks every field; the message names it.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        guard ModelRepository.isValidName(name) else { throw fail("name: '\(name)' is not a valid model name") }
        guard !data.train.isEmpty else { throw fail("data.train is empty") }
        if let l = data.limit, l < 2 { throw fail("data.limit must be >= 2 (got \(l))") }
        guard data.devImages >= 1 else { throw fail("data.dev_images must be >= 1 (got \(data.devImages))") }
        guard (16...2048).contains(input.width), (16...2048).contains(input.height) else {
            throw fail("input.width and input.height must be in 16...2048 (got \(input.width)x\(input.height))")
        }
        guard (1...256).contains(head.stride), input.width % head.stride == 0, input.height % head.stride == 0 else {
            throw fail("head.stride must divide input.width and input.height (got \(head.stride) for \(input.width)x\(input.height))")
        }
        guard (1...16).contains(head.anchors) else { throw fail("head.anchors must be in 1...16 (got \(head.anchors))") }
        if let problem = tiling?.problem { throw fail(problem) }
        let a = augmentation
        guard (0...1).contains(a.flip) else { throw fail("augmentation.flip must be in [0, 1] (got \(a.flip))") }
        guard a.scaleLow > 0, a.scaleLow <= a.scaleHigh, a.scaleHigh <= 4 else {
            throw fail("augmentation.scale_low and scale_high need 0 < scale_low <= scale_high <= 4 (got \(a.scaleLow), \(a.scaleHigh))")
        }
        guard (0...1).contains(a.color) else { throw fail("augmentation.color must be in [0, 1] (got \(a.color))") }
        guard (0...1).contains(a.minVisible) else { throw fail("augmentation.min_visible must be in [0, 1] (got \(a.minVisible))") }
        try optimizer.validate()
        for (k, v) in [("box", loss.box), ("object", loss.object), ("no_object", loss.noObject), ("classes", loss.classes)]
            where !(v.isFinite && v >= 0) {
            throw fail("loss.\(k) must be >= 0 (got \(v))")
        }
        guard (1...1024).contains(batchSize) else { throw fail("batch_size must be in 1...1024 (got \(batchSize))") }
        guard (1...10_000).contains(epochs) else { throw fail("epochs must be in 1...10000 (got \(epochs))") }
        _ = try buildModel(classes: 2)
    }

    /// The model with "$head_channels" = anchors x (5 + classes); it must read
    /// one image [3, H, W] and end in the head [channels, H / stride, W / stride].
    func buildModel(classes: Int, seed: UInt64 = 0) throws -> GraphModel {
        func fail(_ m: String) -> TrainingError { .invalidRecipe("model: \(m)") }
        let channels = head.anchors * (5 + classes)
        guard model.inputs.count == 1, model.inputs[0].shape == [3, input.height, input.width] else {
            throw fail("needs one input of shape [3, \(input.height), \(input.width)] (got \(model.inputs.map(\.shape)))")
        }
        guard model.outputs.count == 1 else { throw fail("needs exactly one output, the head (got \(model.outputs))") }
        var spec = model
        for i in spec.layers.indices {
            spec.layers[i].attrs = spec.layers[i].attrs.mapValues { $0 == .string(Self.headChannels) ? .number(Double(channels)) : $0 }
        }
        let built: GraphModel
        do { built = try GraphModel(spec: spec, seed: seed) } catch let e as ModelError { throw fail(e.description) }
        let want = [channels, input.height / head.stride, input.width / head.stride]
        guard built.outputShape == want else {
            throw fail("output '\(model.output)' must be [\"\(Self.headChannels)\", \(want[1]), \(want[2])] (got \(built.outputShape))")
        }
        return built
    }

    /// What a run produced.
    public struct Trained {
        public var model: GraphModel
        public var grid: YOLOGrid
        public var classes: [String]
        public var history: [DetectionTrainer.Epoch]
        public var dev: DetectionScores
        public var trainImages: Int
        public var devImages: Int
    }

    /// mAP figures of a detector on a split.
    public struct DetectionScores: Codable, Equatable, Sendable {
        public var images: Int
        public var vocMAP50: Double
        public var cocoMAP: Double
        public var cocoAP50: Double
        public var perClassAP50: [String: Double]
        /// Box precision and recall at IoU 0.4 of the detections scoring at
        /// least 0.25 (the daemon's default threshold), as DeepForest reports trees.
        public var precision40: Double
        public var recall40: Double

        public static let operatingIoU = 0.4, operatingScore = 0.25

        public init(_ bench: DetectionBenchmark, classes: [String]) {
            images = bench.groundTruth.count
            let voc = bench.vocMeanAveragePrecision()
            vocMAP50 = voc.mean
            let coco = bench.coco()
            (cocoMAP, cocoAP50) = (coco.map, coco.ap50)
            perClassAP50 = Dictionary(uniqueKeysWithValues: voc.perClass.map { (classes[$0.key], $0.value) })
            let point = bench.operatingPoint(iouThreshold: Self.operatingIoU, scoreThreshold: Self.operatingScore)
            (precision40, recall40) = (point.precision, point.recall)
        }

        enum CodingKeys: String, CodingKey {
            case images, vocMAP50 = "map50", cocoMAP = "coco_map", cocoAP50 = "coco_ap50", perClassAP50 = "per_class_ap50"
            case precision40 = "precision_iou40", recall40 = "recall_iou40"
        }
    }

    /// Reads the data, finds the anchors and trains. With `checkpoint`, a
    /// checkpoint is saved after every epoch (`configure` may replace that
    /// hook) and a run resumes from it when the file exists.
    public func train(base: URL, checkpoint: URL? = nil, configure: ((DetectionTrainer) throws -> Void)? = nil,
                      isCancelled: @escaping () -> Bool = { false }) throws -> Trained {
        try validate()
        func resolve(_ p: String, _ b: URL) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : b.appendingPathComponent(p) }
        let url = resolve(data.train, data.dir.map { resolve($0, base) } ?? base)
        let split = try DetectionSplit.load(url, limit: data.limit)
        guard split.scenes.count > data.devImages else {
            throw TrainingError.dataset("\(url.path): \(split.scenes.count) images leave none for training after data.dev_images \(data.devImages)")
        }
        let train = Array(split.scenes.dropLast(data.devImages)), dev = Array(split.scenes.suffix(data.devImages))
        let letterbox = Letterbox(width: input.width, height: input.height, allowUpscale: true)
        let sizes = train.flatMap { s -> [AnchorKMeans.Size] in
            let k = letterbox.scale(width: s.image.width, height: s.image.height)
            return s.objects.map { .init(width: $0.box.width * k, height: $0.box.height * k) }
        }
        guard sizes.count >= head.anchors else {
            throw TrainingError.dataset("\(url.path): \(sizes.count) training boxes for \(head.anchors) anchors")
        }
        let anchors = AnchorKMeans(sizes: sizes, k: head.anchors).anchors
        let grid = YOLOGrid(inputWidth: input.width, inputHeight: input.height, stride: head.stride, anchors: anchors,
                            classes: split.classes.count, tiling: tiling)
        let model = try buildModel(classes: split.classes.count, seed: SeedStream.derive(seed, .initialization))
        let trainer = DetectionTrainer(model: model, grid: grid, train: train, options: .init(
            epochs: epochs, batchSize: batchSize, learningRate: optimizer.lr, warmupSteps: optimizer.warmupSteps,
            clipNorm: optimizer.clipNorm, seed: seed, augmentation: augmentation, lossWeights: loss))
        trainer.dev = dev
        trainer.isCancelled = isCancelled
        if let checkpoint {
            if FileManager.default.fileExists(atPath: checkpoint.path) { try trainer.resume(from: DetectionCheckpoint.load(from: checkpoint)) }
            trainer.epochFinished = { try $0.save(to: checkpoint) }
        }
        try configure?(trainer)
        let history = try trainer.fit()
        return Trained(model: model, grid: grid, classes: split.classes, history: history,
                       dev: DetectionScores(trainer.benchmark(dev), classes: split.classes),
                       trainImages: train.count, devImages: dev.count)
    }

    /// config.json of the model.
    public func config(classes: [String]) -> ModelConfig {
        ModelConfig(name: name, task: .detection, labels: classes,
                    input: .init(shape: [3, input.height, input.width], color: .rgb, preprocessing: .init(scale: 1.0 / 255)))
    }

    /// Writes a trained model's version files into `dir`: model.json,
    /// weights.safetensors, detection.json and recipe.json (not metrics.json).
    public func save(_ trained: Trained, to dir: URL) throws {
        try trained.model.save(to: dir)
        try JSONFile.write(trained.grid, to: dir.appendingPathComponent(Self.geometryFileName))
        try JSONFile.write(self, to: dir.appendingPathComponent(ModelRepository.recipeFileName))
    }

    /// metrics.json: parameters, anchors, per-epoch losses and dev mAP, the final dev scores.
    public func metrics(_ trained: Trained) throws -> Data {
        try JSONFile.encode(Metrics(task: Self.task, parameters: trained.model.parameterCount, trainImages: trained.trainImages,
                                    dev: trained.dev, anchors: trained.grid.anchors, epochs: trained.history))
    }

    /// `train`, then publishes the next version: the files of `save` and metrics.json.
    @discardableResult
    public func run(base: URL, repository: ModelRepository, checkpoint: URL? = nil,
                    configure: ((DetectionTrainer) throws -> Void)? = nil) throws -> (version: Int, trained: Trained) {
        let trained = try train(base: base, checkpoint: checkpoint, configure: configure)
        let version = try repository.publishTrained(name: name, config: config(classes: trained.classes), taskName: "detection",
                                                    metrics: try metrics(trained)) { try save(trained, to: $0) }
        return (version, trained)
    }

    struct Metrics: Encodable {
        var task: String
        var parameters: Int
        var trainImages: Int
        var dev: DetectionScores
        var anchors: [AnchorKMeans.Size]
        var epochs: [DetectionTrainer.Epoch]
        enum CodingKeys: String, CodingKey { case task, parameters, dev, anchors, epochs, trainImages = "train_images" }
    }
}
