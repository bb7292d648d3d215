import DLKernels
import DLNN
import DLVision
import Foundation

/// A recipe that trains a YOLO-style detector and publishes it with its head
/// geometry (`detection.json`: input size, stride, anchors, classes):
///
///     {
///       "name": "detect-fashion",
///       "task": "detection",
///       "data": {"dir": "data/detect-fashion", "train": "train.json", "dev_images": 500, "limit": null},
///       "input": {"width": 160, "height": 160},
///       "head": {"stride": 16, "anchors": 3},
///       "tiling": {"tile": 400, "overlap": 0.25},   (optional: how large photos are served)
///       "model": { model.json: input "image" [3, H, W], one output [-1, "$head_channels", H / stride, W / stride] },
///       "augmentation": {"flip": 0.5, "scale_low": 0.75, "scale_high": 1.25, "translate": true,
///                        "color": 0.3, "min_visible": 0.4},
///       "optimizer": {"lr": 0.001, "warmup_steps": 300, "clip_norm": 10},
///       "loss": {"box": 5, "object": 1, "no_object": 0.5, "classes": 1},
///       "batch_size": 16,
///       "epochs": 30,
///       "seed": 1
///     }
///
/// The anchors are found by k-means (1 - IoU) over the training boxes as the
/// letterbox sees them. The last `dev_images` training images are held out
/// for the per-epoch mAP. In `model`, the string "$head_channels" stands for
/// anchors x (5 + classes). Unknown fields are errors naming the field.
public struct DetectionRecipe: TaskRecipe, Codable, Equatable, Sendable {
    public struct DataSection: Codable, Equatable, Sendable {
        public var dir: String?
        public var train: String
        public var devImages: Int
        public var limit: Int?

        public init(dir: String? = nil, train: String = "train.json", devImages: Int = 500, limit: Int? = nil) {
            (self.dir, self.train, self.devImages, self.limit) = (dir, train, devImages, limit)
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case dir, train, limit, devImages = "dev_images" }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "data.")
            let c = try d.container(keyedBy: CodingKeys.self), x = DataSection()
            dir = try c.decodeIfPresent(String.self, forKey: .dir)
            train = try c.decodeIfPresent(String.self, forKey: .train) ?? x.train
            devImages = try c.decodeIfPresent(Int.self, forKey: .devImages) ?? x.devImages
            limit = try c.decodeIfPresent(Int.self, forKey: .limit)
        }
    }

    public struct InputSection: Codable, Equatable, Sendable {
        public var width: Int
        public var height: Int
        public init(width: Int = 160, height: Int = 160) { (self.width, self.height) = (width, height) }
        enum CodingKeys: String, CodingKey, CaseIterable { case width, height }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "input.")
            let c = try d.container(keyedBy: CodingKeys.self)
            width = try c.decodeIfPresent(Int.self, forKey: .width) ?? 160
            height = try c.decodeIfPresent(Int.self, forKey: .height) ?? 160
        }
    }

    public struct HeadSection: Codable, Equatable, Sendable {
        public var stride: Int
        /// How many anchors k-means finds.
        public var anchors: Int
        public init(stride: Int = 16, anchors: Int = 3) { (self.stride, self.anchors) = (stride, anchors) }
        enum CodingKeys: String, CodingKey, CaseIterable { case stride, anchors }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "head.")
            let c = try d.container(keyedBy: CodingKeys.self)
            stride = try c.decodeIfPresent(Int.self, forKey: .stride) ?? 16
            anchors = try c.decodeIfPresent(Int.self, forKey: .anchors) ?? 3
        }
    }

    public struct OptimizerSection: Codable, Equatable, Sendable {
        public var lr: Float
        public var warmupSteps: Int
        public var clipNorm: Float?
        public init(lr: Float = 1e-3, warmupSteps: Int = 300, clipNorm: Float? = 10) {
            (self.lr, self.warmupSteps, self.clipNorm) = (lr, warmupSteps, clipNorm)
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case lr, warmupSteps = "warmup_steps", clipNorm = "clip_norm" }

        /// Checks the fields; the message names the one that is wrong.
        public func validate() throws {
            func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
            guard lr.isFinite, lr > 0, lr <= 1 else { throw fail("optimizer.lr must be in (0, 1] (got \(lr))") }
            guard warmupSteps >= 0 else { throw fail("optimizer.warmup_steps must be >= 0 (got \(warmupSteps))") }
            if let c = clipNorm, !(c.isFinite && c > 0) { throw fail("optimizer.clip_norm must be > 0 (got \(c))") }
        }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "optimizer.")
            let c = try d.container(keyedBy: CodingKeys.self), x = OptimizerSection()
            lr = try c.decodeIfPresent(Float.self, forKey: .lr) ?? x.lr
            warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? x.warmupSteps
            clipNorm = c.contains(.clipNorm) ? try c.decodeIfPresent(Float.self, forKey: .clipNorm) : x.clipNorm
        }
    }

    public static let task = "detection"
    public static let headChannels = "$head_channels"

    public var name: String
    public var data: DataSection
    public var input: InputSection
    public var head: HeadSection
    /// Published in detection.json: the daemon cuts larger images into these tiles.
    public var tiling: Tiling?
    public var model: ModelSpec
    public var augmentation: DetectionAugmentation
    public var optimizer: OptimizerSection
    public var loss: YOLOLossWeights
    public var batchSize: Int
    public var epochs: Int
    public var seed: UInt64
    public var promote: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, task, data, input, head, tiling, model, augmentation, optimizer, loss, epochs, seed, promote
        case batchSize = "batch_size"
    }

    public init(from d: Decoder) throws {
        try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "")
        let c = try d.container(keyedBy: CodingKeys.self)
        let task = try c.decode(String.self, forKey: .task)
        guard task == Self.task else { throw TrainingError.invalidRecipe("task must be '\(Self.task)' (got '\(task)')") }
        name = try c.decode(String.self, forKey: .name)
        data = try c.decodeIfPresent(DataSection.self, forKey: .data) ?? DataSection()
        input = try c.decodeIfPresent(InputSection.self, forKey: .input) ?? InputSection()
        head = try c.decodeIfPresent(HeadSection.self, forKey: .head) ?? HeadSection()
        tiling = try c.decodeIfPresent(Tiling.self, forKey: .tiling)
        model = try c.decode(ModelSpec.self, forKey: .model)
        augmentation = try c.decodeIfPresent(AugmentationKeys.self, forKey: .augmentation)?.value ?? DetectionAugmentation()
        optimizer = try c.decodeIfPresent(OptimizerSection.self, forKey: .optimizer) ?? OptimizerSection()
        loss = try c.decodeIfPresent(LossKeys.self, forKey: .loss)?.value ?? YOLOLossWeights()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 16
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? 30
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        promote = try c.decodeIfPresent(Bool.self, forKey: .promote)
    }

    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(Self.task, forKey: .task)
        try c.encode(data, forKey: .data)
        try c.encode(input, forKey: .input)
        try c.encode(head, forKey: .head)
        try c.encodeIfPresent(tiling, forKey: .tiling)
        try c.encode(model, forKey: .model)
        try c.encode(AugmentationKeys(value: augmentation), forKey: .augmentation)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(LossKeys(value: loss), forKey: .loss)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(promote, forKey: .promote)
    }

    /// `augmentation` with snake_case keys and defaults.
    struct AugmentationKeys: Codable {
        var value: DetectionAugmentation
        init(value: DetectionAugmentation) { self.value = value }
        enum CodingKeys: String, CodingKey, CaseIterable {
            case flip, translate, color, scaleLow = "scale_low", scaleHigh = "scale_high", minVisible = "min_visible"
        }
        init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "augmentation.")
            let c = try d.container(keyedBy: CodingKeys.self), x = DetectionAugmentation()
            value = DetectionAugmentation(flip: try c.decodeIfPresent(Double.self, forKey: .flip) ?? x.flip,
                                          scaleLow: try c.decodeIfPresent(Double.self, forKey: .scaleLow) ?? x.scaleLow,
                                          scaleHigh: try c.decodeIfPresent(Double.self, forKey: .scaleHigh) ?? x.scaleHigh,
                                          translate: try c.decodeIfPresent(Bool.self, forKey: .translate) ?? x.translate,
                                          color: try c.decodeIfPresent(Double.self, forKey: .color) ?? x.color,
                                          minVisible: try c.decodeIfPresent(Double.self, forKey: .minVisible) ?? x.minVisible)
        }
        func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            try c.encode(value.flip, forKey: .flip); try c.encode(value.scaleLow, forKey: .scaleLow)
            try c.encode(value.scaleHigh, forKey: .scaleHigh); try c.encode(value.translate, forKey: .translate)
            try c.encode(value.color, forKey: .color); try c.encode(value.minVisible, forKey: .minVisible)
        }
    }

    /// `loss` with snake_case keys and the course's defaults.
    struct LossKeys: Codable {
        var value: YOLOLossWeights
        init(value: YOLOLossWeights) { self.value = value }
        enum CodingKeys: String, CodingKey, CaseIterable { case box, object, classes, noObject = "no_object" }
        init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "loss.")
            let c = try d.container(keyedBy: CodingKeys.self), x = YOLOLossWeights()
            value = YOLOLossWeights(box: try c.decodeIfPresent(Float.self, forKey: .box) ?? x.box,
                                    object: try c.decodeIfPresent(Float.self, forKey: .object) ?? x.object,
                                    noObject: try c.decodeIfPresent(Float.self, forKey: .noObject) ?? x.noObject,
                                    classes: try c.decodeIfPresent(Float.self, forKey: .classes) ?? x.classes)
        }
        func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            try c.encode(value.box, forKey: .box); try c.encode(value.object, forKey: .object)
            try c.encode(value.noObject, forKey: .noObject); try c.encode(value.classes, forKey: .classes)
        }
    }
}
