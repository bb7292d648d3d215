import DLNN
import Foundation

/// A training recipe: the JSON document `dlserve train RECIPE.json` reads and
/// `POST /v1/jobs` accepts. Everything a run needs, so that the recipe saved
/// beside a model (recipe.json) retrains it with one command.
///
///     {
///       "name": "fashion-mnist",
///       "dataset": {"name": "fashion-mnist", "dev_fraction": 0.1, "limit": 60000},
///       "model": {"preset": "fashion-cnn", "width": 32, "keep_prob": 0.7},
///       "optimizer": {"name": "adam", "lr": 0.002, "betas": [0.9, 0.999],
///                     "schedule": {"type": "exponential", "rate": 0.8}},
///       "epochs": 12, "batch_size": 64, "l2": 0,
///       "early_stopping": {"patience": 3},
///       "augmentation": {"horizontal_flip": true, "crop_padding": 2},
///       "seed": 1
///     }
///
/// `model` is exactly one of `preset` (a `ModelPreset`), `architecture` (a
/// model.json `ModelSpec` inline) or `base` (an existing model to fine-tune,
/// with an optional `version`); an inline architecture may leave out
/// "format" and "output" (default: the last layer). Dropout is part of the architecture (dropout
/// layers, or a preset's `keep_prob`). `l2` is the course's lambda (the
/// gradient gains lambda / m * W with m the training-set size).
///
/// Parse with `Recipe.parse(_:)` (unknown fields are errors, so a typo is not
/// silently ignored) and check with `validate(limits:)`; both throw
/// `TrainingError.invalidRecipe` with a message that names the field.
public struct Recipe: Codable, Equatable, Sendable {
    public struct DatasetSection: Codable, Equatable, Sendable {
        /// A name known to `DatasetRegistry` ("fashion-mnist", or a directory name).
        public var name: String
        /// Fraction of the training images held out as the dev set (early
        /// stopping and per-epoch dev metrics); 0 = none. Default 0.1.
        public var devFraction: Double
        /// Use only the first `limit` training images (a slice for quick jobs).
        public var limit: Int?
        /// Evaluate on only the first `test_limit` test images.
        public var testLimit: Int?

        public init(name: String, devFraction: Double = 0.1, limit: Int? = nil, testLimit: Int? = nil) {
            self.name = name
            self.devFraction = devFraction
            self.limit = limit
            self.testLimit = testLimit
        }

        enum CodingKeys: String, CodingKey { case name, limit, devFraction = "dev_fraction", testLimit = "test_limit" }

        public init(from d: Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            devFraction = try c.decodeIfPresent(Double.self, forKey: .devFraction) ?? 0.1
            limit = try c.decodeIfPresent(Int.self, forKey: .limit)
            testLimit = try c.decodeIfPresent(Int.self, forKey: .testLimit)
        }
    }

    public struct ModelSection: Codable, Equatable, Sendable {
        public var preset: String?
        /// Channel/unit scale of a preset.
        public var width: Int?
        /// Dropout keep probability of a preset's dropout layers.
        public var keepProb: Float?
        public var architecture: ModelSpec?
        /// A model of the repository to fine-tune (its architecture, weights and normalization).
        public var base: String?
        /// The base model's version (default: its latest).
        public var version: Int?
        /// Text models: pretrained vectors copied into an embedding layer
        /// before training, `{"layer": "embed", "vectors": "glove-6b-50d"}`
        /// (a word-vector model of the repository).
        public var embeddings: EmbeddingsSection?

        public struct EmbeddingsSection: Codable, Equatable, Sendable {
            public var layer: String
            public var vectors: String
            public init(layer: String, vectors: String) { self.layer = layer; self.vectors = vectors }
        }

        public init(preset: String? = nil, width: Int? = nil, keepProb: Float? = nil, architecture: ModelSpec? = nil,
                    base: String? = nil, version: Int? = nil, embeddings: EmbeddingsSection? = nil) {
            self.embeddings = embeddings
            self.preset = preset
            self.width = width
            self.keepProb = keepProb
            self.architecture = architecture
            self.base = base
            self.version = version
        }

        enum CodingKeys: String, CodingKey { case preset, width, architecture, base, version, embeddings, keepProb = "keep_prob" }

        public init(from d: Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            preset = try c.decodeIfPresent(String.self, forKey: .preset)
            width = try c.decodeIfPresent(Int.self, forKey: .width)
            keepProb = try c.decodeIfPresent(Float.self, forKey: .keepProb)
            base = try c.decodeIfPresent(String.self, forKey: .base)
            version = try c.decodeIfPresent(Int.self, forKey: .version)
            embeddings = try c.decodeIfPresent(EmbeddingsSection.self, forKey: .embeddings)
            // An inline architecture may leave out model.json's "format".
            if case .object(var o)? = try c.decodeIfPresent(JSONValue.self, forKey: .architecture) {
                if o["format"] == nil { o["format"] = .string(GraphModel.specFormat) }
                // and its "output" (default: the last layer).
                if o["output"] == nil, case .array(let layers)? = o["layers"], case .object(let last)? = layers.last,
                   let name = last["name"] { o["output"] = name }
                do {
                    architecture = try JSONDecoder().decode(ModelSpec.self, from: JSONEncoder().encode(JSONValue.object(o)))
                } catch let e as DecodingError {
                    throw TrainingError.invalidRecipe(JSONFile.describe(e).replacingOccurrences(of: "field '", with: "field 'model.architecture."))
                }
                guard architecture?.format == GraphModel.specFormat else {
                    throw TrainingError.invalidRecipe("model.architecture.format must be '\(GraphModel.specFormat)'")
                }
            } else {
                architecture = try c.decodeIfPresent(ModelSpec.self, forKey: .architecture)
            }
        }
    }

    public struct ScheduleSection: Codable, Equatable, Sendable {
        /// "constant", "inverse_time", "exponential", "step" or "cosine".
        public var type: String
        /// inverse_time: lr0 / (1 + decay_rate * epoch).
        public var decayRate: Float?
        /// exponential: lr0 * rate^epoch.
        public var rate: Float?
        /// step: lr0 * gamma^floor(epoch / step_size).
        public var stepSize: Int?
        public var gamma: Float?

        public init(type: String, decayRate: Float? = nil, rate: Float? = nil, stepSize: Int? = nil, gamma: Float? = nil) {
            self.type = type
            self.decayRate = decayRate
            self.rate = rate
            self.stepSize = stepSize
            self.gamma = gamma
        }

        enum CodingKeys: String, CodingKey { case type, rate, gamma, decayRate = "decay_rate", stepSize = "step_size" }
    }

    public struct OptimizerSection: Codable, Equatable, Sendable {
        /// "sgd", "momentum", "rmsprop" or "adam".
        public var name: String
        public var lr: Float
        /// Adam's (beta1, beta2); default (0.9, 0.999).
        public var betas: [Float]?
        /// Momentum's mu (default 0.9).
        public var momentum: Float?
        public var nesterov: Bool?
        /// RMSprop's alpha (default 0.99).
        public var alpha: Float?
        /// Adam's and RMSprop's epsilon (default 1e-8).
        public var eps: Float?
        /// Gradient clipping by global norm.
        public var clipNorm: Float?
        public var schedule: ScheduleSection?

        public init(name: String, lr: Float, betas: [Float]? = nil, momentum: Float? = nil, nesterov: Bool? = nil,
                    alpha: Float? = nil, eps: Float? = nil, clipNorm: Float? = nil, schedule: ScheduleSection? = nil) {
            self.name = name
            self.lr = lr
            self.betas = betas
            self.momentum = momentum
            self.nesterov = nesterov
            self.alpha = alpha
            self.eps = eps
            self.clipNorm = clipNorm
            self.schedule = schedule
        }

        enum CodingKeys: String, CodingKey { case name, lr, betas, momentum, nesterov, alpha, eps, schedule, clipNorm = "clip_norm" }
    }

    public struct EarlyStoppingSection: Codable, Equatable, Sendable {
        /// Epochs without a better dev loss before stopping.
        public var patience: Int
        /// Improvement below this does not count (default 0).
        public var minDelta: Float?

        public init(patience: Int, minDelta: Float? = nil) {
            self.patience = patience
            self.minDelta = minDelta
        }

        enum CodingKeys: String, CodingKey { case patience, minDelta = "min_delta" }
    }

    /// The model name in the repository (models/NAME/).
    public var name: String
    public var description: String?
    public var dataset: DatasetSection
    public var model: ModelSection
    public var optimizer: OptimizerSection
    public var epochs: Int
    public var batchSize: Int
    /// The course's lambda (default 0).
    public var l2: Float
    public var earlyStopping: EarlyStoppingSection?
    public var augmentation: Augmentation?
    /// Normalize inputs with the training split's per-channel mean and std (default true).
    public var normalize: Bool
    public var seed: UInt64
    /// Class names to store in the model (default: the dataset's).
    public var labels: [String]?
    /// For the job queue: serve the new version as soon as it is published.
    public var promote: Bool?

    public init(
        name: String, description: String? = nil, dataset: DatasetSection, model: ModelSection, optimizer: OptimizerSection,
        epochs: Int, batchSize: Int, l2: Float = 0, earlyStopping: EarlyStoppingSection? = nil,
        augmentation: Augmentation? = nil, normalize: Bool = true, seed: UInt64 = 0, labels: [String]? = nil, promote: Bool? = nil
    ) {
        self.name = name
        self.description = description
        self.dataset = dataset
        self.model = model
        self.optimizer = optimizer
        self.epochs = epochs
        self.batchSize = batchSize
        self.l2 = l2
        self.earlyStopping = earlyStopping
        self.augmentation = augmentation
        self.normalize = normalize
        self.seed = seed
        self.labels = labels
        self.promote = promote
    }

    enum CodingKeys: String, CodingKey {
        case name, description, dataset, model, optimizer, epochs, l2, augmentation, normalize, seed, labels, promote
        case batchSize = "batch_size", earlyStopping = "early_stopping"
    }

    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        dataset = try c.decode(DatasetSection.self, forKey: .dataset)
        model = try c.decode(ModelSection.self, forKey: .model)
        optimizer = try c.decode(OptimizerSection.self, forKey: .optimizer)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        l2 = try c.decodeIfPresent(Float.self, forKey: .l2) ?? 0
        earlyStopping = try c.decodeIfPresent(EarlyStoppingSection.self, forKey: .earlyStopping)
        augmentation = try c.decodeIfPresent(Augmentation.self, forKey: .augmentation)
        normalize = try c.decodeIfPresent(Bool.self, forKey: .normalize) ?? true
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        labels = try c.decodeIfPresent([String].self, forKey: .labels)
        promote = try c.decodeIfPresent(Bool.self, forKey: .promote)
    }

    // MARK: parsing

    /// The fields each object may have; anything else is an error naming it.
    static let allowedKeys: [String: Set<String>] = [
        "": ["name", "description", "dataset", "model", "optimizer", "epochs", "batch_size", "l2", "early_stopping",
             "augmentation", "normalize", "seed", "labels", "promote"],
        "dataset": ["name", "dev_fraction", "limit", "test_limit"],
        "model": ["preset", "width", "keep_prob", "architecture", "base", "version", "embeddings"],
        "model.embeddings": ["layer", "vectors"],
        "model.architecture": ["format", "input_shape", "layers", "output"],
        "model.architecture.layers[]": ["name", "type", "inputs", "attrs"],
        "optimizer": ["name", "lr", "betas", "momentum", "nesterov", "alpha", "eps", "clip_norm", "schedule"],
        "optimizer.schedule": ["type", "decay_rate", "rate", "step_size", "gamma"],
        "early_stopping": ["patience", "min_delta"],
        "augmentation": ["horizontal_flip", "crop_padding", "brightness", "contrast"],
    ]

    /// Decodes a recipe (at most 1 MiB of JSON). Errors name the field:
    /// "missing field 'optimizer.lr'", "unknown field 'optimizer.learning_rate'".
    public static func parse(_ data: Data) throws -> Recipe {
        guard data.count <= 1 << 20 else { throw TrainingError.invalidRecipe("the recipe is larger than 1 MiB") }
        let raw: JSONValue
        do { raw = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw TrainingError.invalidRecipe("not valid JSON")
        }
        try checkKeys(raw, path: "")
        do {
            return try JSONDecoder().decode(Recipe.self, from: data)
        } catch let e as DecodingError {
            throw TrainingError.invalidRecipe(JSONFile.describe(e))
        }
    }

    /// Reads and parses a recipe file.
    public static func load(_ url: URL) throws -> Recipe {
        let data: Data
        do { data = try JSONFile.read(url, maxBytes: 1 << 20) } catch {
            throw TrainingError.invalidRecipe("\(url.path): \(error)")
        }
        do { return try parse(data) } catch TrainingError.invalidRecipe(let m) {
            throw TrainingError.invalidRecipe("\(url.path): \(m)")
        }
    }

    static func checkKeys(_ v: JSONValue, path: String) throws {
        guard case .object(let o) = v else { return }
        let schemaPath = path.replacingOccurrences(of: #"\[\d+\]"#, with: "[]", options: .regularExpression)
        if let allowed = allowedKeys[schemaPath] {
            for k in o.keys.sorted() where !allowed.contains(k) {
                throw TrainingError.invalidRecipe("unknown field '\(path.isEmpty ? k : path + "." + k)'")
            }
        }
        for (k, child) in o where k != "attrs" {
            let p = path.isEmpty ? k : "\(path).\(k)"
            if case .array(let items) = child {
                for (i, item) in items.enumerated() { try checkKeys(item, path: "\(p)[\(i)]") }
            } else {
                try checkKeys(child, path: p)
            }
        }
    }

    /// Pretty JSON with sorted keys (what is saved as recipe.json).
    public func encoded() throws -> Data { try JSONFile.encode(self) }
}
