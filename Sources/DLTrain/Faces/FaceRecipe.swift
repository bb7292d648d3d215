import DLNN
import DLVision
import Foundation

/// A recipe that trains an image embedding for face verification (task
/// "embedding"): a `GraphModel` from a photo to a D-vector (ending in
/// `l2_normalize` for the triplet loss), trained on batches of P people x K
/// photos with triplets mined inside each batch (Schroff et al., 2015), or
/// with the course's siamese pair classifier:
///
///     {
///       "name": "face-embed",
///       "task": "embedding",
///       "data": {"dir": "data/faces", "train": "train", "dev_identities": 10, "dev_pairs": 300},
///       "input": {"shape": [1, 32, 32], "color": "grayscale",
///                 "preprocessing": {"scale": 0.00392156862745098, "mean": [0.5], "std": [0.25]}},
///       "model": { model.json: input "image" [C, H, W], one output [D] },
///       "objective": {"loss": "triplet", "mining": "batch_hard", "alpha": 0.2},
///       "batch": {"identities": 16, "images": 4},
///       "steps_per_epoch": 100,
///       "augmentation": {"flip": 0.5, "shift": 2, "rotate": 10, "erase": 0.3},
///       "optimizer": {"lr": 0.001, "warmup_steps": 100, "clip_norm": 10},
///       "epochs": 20,
///       "seed": 1,
///       "flip_average": true
///     }
///
/// `data.train` is a folder per person (LFW's layout); the last
/// `dev_identities` people (sorted by name) are held out, and `dev_pairs`
/// matched + mismatched pairs of their photos score every epoch and choose
/// the shipped tau. `input` is config.json's: the photos are preprocessed
/// exactly as the daemon will. `flip_average` embeds every photo as the mean
/// with its mirror image, at dev scoring and in the published version
/// (`VerificationFile`). Unknown fields are errors naming the field.
public struct FaceRecipe: TaskRecipe, Codable, Equatable, Sendable {
    public struct DataSection: Codable, Equatable, Sendable {
        public var dir: String?
        public var train: String = "train"
        public var devIdentities: Int = 10
        public var devPairs: Int = 300
        public init(dir: String? = nil, train: String = "train", devIdentities: Int = 10, devPairs: Int = 300) {
            (self.dir, self.train, self.devIdentities, self.devPairs) = (dir, train, devIdentities, devPairs)
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case dir, train, devIdentities = "dev_identities", devPairs = "dev_pairs" }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "data.")
            let c = try d.container(keyedBy: CodingKeys.self), x = DataSection()
            dir = try c.decodeIfPresent(String.self, forKey: .dir)
            train = try c.decodeIfPresent(String.self, forKey: .train) ?? x.train
            devIdentities = try c.decodeIfPresent(Int.self, forKey: .devIdentities) ?? x.devIdentities
            devPairs = try c.decodeIfPresent(Int.self, forKey: .devPairs) ?? x.devPairs
        }
    }

    public struct Objective: Codable, Equatable, Sendable {
        public enum Loss: String, Codable, Sendable, CaseIterable { case triplet, siamese }
        public var loss: Loss = .triplet
        public var mining: TripletMining = .batchHard
        public var alpha: Float = 0.2
        public init(loss: Loss = .triplet, mining: TripletMining = .batchHard, alpha: Float = 0.2) {
            (self.loss, self.mining, self.alpha) = (loss, mining, alpha)
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case loss, mining, alpha }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "objective.")
            let c = try d.container(keyedBy: CodingKeys.self), x = Objective()
            func named<T: RawRepresentable & CaseIterable>(_ key: CodingKeys, _ t: T.Type) throws -> T? where T.RawValue == String {
                guard let s = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
                guard let v = T(rawValue: s) else {
                    throw TrainingError.invalidRecipe("objective.\(key.rawValue): '\(s)' is not one of \(T.allCases.map(\.rawValue))")
                }
                return v
            }
            loss = try named(.loss, Loss.self) ?? x.loss
            mining = try named(.mining, TripletMining.self) ?? x.mining
            alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? x.alpha
        }
    }

    public struct BatchSection: Codable, Equatable, Sendable {
        /// P: people per batch.
        public var identities: Int = 16
        /// K: photos per person.
        public var images: Int = 4
        public init(identities: Int = 16, images: Int = 4) { (self.identities, self.images) = (identities, images) }
        enum CodingKeys: String, CodingKey, CaseIterable { case identities, images }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "batch.")
            let c = try d.container(keyedBy: CodingKeys.self), x = BatchSection()
            identities = try c.decodeIfPresent(Int.self, forKey: .identities) ?? x.identities
            images = try c.decodeIfPresent(Int.self, forKey: .images) ?? x.images
        }
    }

    public struct Augmentation: Codable, Equatable, Sendable {
        /// Probability of a horizontal flip.
        public var flip: Double = 0.5
        /// Largest shift in pixels, each axis (edges replicated).
        public var shift: Int = 2
        /// Largest rotation in degrees, either way (bilinear, edges replicated); 0: none.
        public var rotate: Double = 0
        /// Probability of erasing a random rectangle of 10-25% of the photo (Zhong et al., 2017); 0: never.
        public var erase: Double = 0
        public init(flip: Double = 0.5, shift: Int = 2, rotate: Double = 0, erase: Double = 0) {
            (self.flip, self.shift, self.rotate, self.erase) = (flip, shift, rotate, erase)
        }
        enum CodingKeys: String, CodingKey, CaseIterable { case flip, shift, rotate, erase }
        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "augmentation.")
            let c = try d.container(keyedBy: CodingKeys.self), x = Augmentation()
            flip = try c.decodeIfPresent(Double.self, forKey: .flip) ?? x.flip
            shift = try c.decodeIfPresent(Int.self, forKey: .shift) ?? x.shift
            rotate = try c.decodeIfPresent(Double.self, forKey: .rotate) ?? x.rotate
            erase = try c.decodeIfPresent(Double.self, forKey: .erase) ?? x.erase
        }
    }

    public static let task = "embedding"

    public var name: String
    public var data: DataSection
    public var input: ModelConfig.Input
    public var model: ModelSpec
    public var objective: Objective
    public var batch: BatchSection
    public var stepsPerEpoch: Int
    public var augmentation: Augmentation
    public var optimizer: DetectionRecipe.OptimizerSection
    public var epochs: Int
    public var seed: UInt64
    public var promote: Bool?
    public var flipAverage: Bool?
    /// Test-time views of the shipped model (`VerificationFile.viewShifts`, `normalizeMean`).
    public var viewShifts: [[Int]]?
    public var normalizeMean: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, task, data, input, model, objective, batch, augmentation, optimizer, epochs, seed, promote
        case stepsPerEpoch = "steps_per_epoch", flipAverage = "flip_average", viewShifts = "view_shifts", normalizeMean = "normalize_mean"
    }

    public init(from d: Decoder) throws {
        try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "")
        let c = try d.container(keyedBy: CodingKeys.self)
        let task = try c.decode(String.self, forKey: .task)
        guard task == Self.task else { throw TrainingError.invalidRecipe("task must be '\(Self.task)' (got '\(task)')") }
        name = try c.decode(String.self, forKey: .name)
        data = try c.decodeIfPresent(DataSection.self, forKey: .data) ?? DataSection()
        input = try c.decode(ModelConfig.Input.self, forKey: .input)
        model = try c.decode(ModelSpec.self, forKey: .model)
        objective = try c.decodeIfPresent(Objective.self, forKey: .objective) ?? Objective()
        batch = try c.decodeIfPresent(BatchSection.self, forKey: .batch) ?? BatchSection()
        stepsPerEpoch = try c.decodeIfPresent(Int.self, forKey: .stepsPerEpoch) ?? 100
        augmentation = try c.decodeIfPresent(Augmentation.self, forKey: .augmentation) ?? Augmentation()
        optimizer = try c.decodeIfPresent(DetectionRecipe.OptimizerSection.self, forKey: .optimizer) ?? .init()
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? 20
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        promote = try c.decodeIfPresent(Bool.self, forKey: .promote)
        flipAverage = try c.decodeIfPresent(Bool.self, forKey: .flipAverage)
        viewShifts = try c.decodeIfPresent([[Int]].self, forKey: .viewShifts)
        normalizeMean = try c.decodeIfPresent(Bool.self, forKey: .normalizeMean)
    }

    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(Self.task, forKey: .task)
        try c.encode(data, forKey: .data)
        try c.encode(input, forKey: .input)
        try c.encode(model, forKey: .model)
        try c.encode(objective, forKey: .objective)
        try c.encode(batch, forKey: .batch)
        try c.encode(stepsPerEpoch, forKey: .stepsPerEpoch)
        try c.encode(augmentation, forKey: .augmentation)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(promote, forKey: .promote)
        try c.encodeIfPresent(flipAverage, forKey: .flipAverage)
        try c.encodeIfPresent(viewShifts, forKey: .viewShifts)
        try c.encodeIfPresent(normalizeMean, forKey: .normalizeMean)
    }
}

extension ModelConfig.Input {
    /// The daemon's preprocessing of a photo for this input (shape [C, H, W]).
    public func imagePreprocessing() throws -> ImagePreprocessing {
        guard shape.count == 3 else { throw PreprocessingError("input.shape must be [C, H, W] (got \(shape))") }
        let p = preprocessing
        return try ImagePreprocessing(channels: shape[0], height: shape[1], width: shape[2],
                                      resize: ResizeMethod(rawValue: p.resize.rawValue) ?? .auto, scale: p.scale,
                                      mean: p.mean, std: p.std, invert: p.invert)
    }
}
