import DLNN
import Foundation

/// A recipe that trains a sequence-to-sequence translation model with teacher
/// forcing and publishes it with its subword files:
///
///     {
///       "name": "translate-en-es",
///       "task": "translation",
///       "data": {"dir": "data/translate-en-es/all", "train": "train.tsv", "dev": "dev.tsv",
///                "limit": null, "dev_limit": 1000, "max_length": 128, "bleu_sentences": 100},
///       "subwords": {"merges": 8000, "shared": true},
///       "model": { model.json with inputs "src" and "tgt" and one output, logits [-1, V] },
///       "optimizer": {"lr": 0.001, "beta1": 0.9, "beta2": 0.98, "eps": 1e-9,
///                     "warmup_steps": 4000, "clip_norm": 1.0},
///       "label_smoothing": 0.1,
///       "batch_tokens": 4096,
///       "epochs": 8,
///       "seed": 1
///     }
///
/// Files are `EN<TAB>ES` lines; `data.train`/`data.dev` are relative to
/// `data.dir` when it is given, else to the directory the run starts in.
/// `limit` keeps the first training pairs; pairs longer than `max_length`
/// subwords on either side are dropped from training. In `model`, the string
/// values "$source_vocab" and "$target_vocab" stand for the sizes of the
/// learned vocabularies (embedding `vocab_size`, output `units`).
/// `batch_tokens` bounds a batch's padded source plus target tokens.
/// Unknown fields are errors; every error is `TrainingError.invalidRecipe`
/// naming the field (see `TranslationRecipe+Validation.swift`).
public struct TranslationRecipe: TaskRecipe, Codable, Equatable, Sendable {
    public struct DataSection: Codable, Equatable, Sendable {
        public var dir: String?
        public var train: String
        public var dev: String
        public var limit: Int?
        public var devLimit: Int
        public var maxLength: Int
        public var bleuSentences: Int

        public init(dir: String? = nil, train: String, dev: String, limit: Int? = nil, devLimit: Int = 1000,
                    maxLength: Int = 128, bleuSentences: Int = 0) {
            self.dir = dir
            self.train = train
            self.dev = dev
            self.limit = limit
            self.devLimit = devLimit
            self.maxLength = maxLength
            self.bleuSentences = bleuSentences
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dir, train, dev, limit
            case devLimit = "dev_limit", maxLength = "max_length", bleuSentences = "bleu_sentences"
        }

        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "data.")
            let c = try d.container(keyedBy: CodingKeys.self)
            let x = DataSection(train: "", dev: "")
            dir = try c.decodeIfPresent(String.self, forKey: .dir)
            train = try c.decodeIfPresent(String.self, forKey: .train) ?? "train.tsv"
            dev = try c.decodeIfPresent(String.self, forKey: .dev) ?? "dev.tsv"
            limit = try c.decodeIfPresent(Int.self, forKey: .limit)
            devLimit = try c.decodeIfPresent(Int.self, forKey: .devLimit) ?? x.devLimit
            maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? x.maxLength
            bleuSentences = try c.decodeIfPresent(Int.self, forKey: .bleuSentences) ?? x.bleuSentences
        }
    }

    public struct Subwords: Codable, Equatable, Sendable {
        public var merges: Int
        public var shared: Bool

        public init(merges: Int = 8000, shared: Bool = true) {
            self.merges = merges
            self.shared = shared
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case merges, shared }

        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "subwords.")
            let c = try d.container(keyedBy: CodingKeys.self)
            merges = try c.decodeIfPresent(Int.self, forKey: .merges) ?? 8000
            shared = try c.decodeIfPresent(Bool.self, forKey: .shared) ?? true
        }
    }

    /// Adam (Kingma & Ba, 2015) with a linear warm-up to `lr` over
    /// `warmup_steps` updates, then lr * sqrt(warmup / step) (Vaswani et al., 2017).
    public struct OptimizerSection: Codable, Equatable, Sendable {
        public var lr: Float
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public var warmupSteps: Int
        public var clipNorm: Float?

        public init(lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.98, eps: Float = 1e-9,
                    warmupSteps: Int = 4000, clipNorm: Float? = 1) {
            self.lr = lr
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.warmupSteps = warmupSteps
            self.clipNorm = clipNorm
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case lr, beta1, beta2, eps
            case warmupSteps = "warmup_steps", clipNorm = "clip_norm"
        }

        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "optimizer.")
            let c = try d.container(keyedBy: CodingKeys.self)
            let x = OptimizerSection()
            lr = try c.decodeIfPresent(Float.self, forKey: .lr) ?? x.lr
            beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? x.beta1
            beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? x.beta2
            eps = try c.decodeIfPresent(Float.self, forKey: .eps) ?? x.eps
            warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? x.warmupSteps
            clipNorm = c.contains(.clipNorm) ? try c.decodeIfPresent(Float.self, forKey: .clipNorm) : x.clipNorm
        }
    }

    public static let task = "translation"
    public static let sourceVocabulary = "$source_vocab"
    public static let targetVocabulary = "$target_vocab"

    public var name: String
    public var data: DataSection
    public var subwords: Subwords
    public var model: ModelSpec
    public var optimizer: OptimizerSection
    public var labelSmoothing: Float
    public var batchTokens: Int
    public var epochs: Int
    public var seed: UInt64
    /// Jobs over HTTP: serve the new version once published (`dlserve train` ignores it).
    public var promote: Bool?

    public init(name: String, data: DataSection, subwords: Subwords = Subwords(), model: ModelSpec,
                optimizer: OptimizerSection = OptimizerSection(), labelSmoothing: Float = 0.1,
                batchTokens: Int = 4096, epochs: Int = 10, seed: UInt64 = 1, promote: Bool? = nil) {
        self.name = name
        self.data = data
        self.subwords = subwords
        self.model = model
        self.optimizer = optimizer
        self.labelSmoothing = labelSmoothing
        self.batchTokens = batchTokens
        self.epochs = epochs
        self.seed = seed
        self.promote = promote
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, task, data, subwords, model, optimizer, epochs, seed, promote
        case labelSmoothing = "label_smoothing", batchTokens = "batch_tokens"
    }

    public init(from d: Decoder) throws {
        try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "")
        let c = try d.container(keyedBy: CodingKeys.self)
        let task = try c.decode(String.self, forKey: .task)
        guard task == Self.task else { throw TrainingError.invalidRecipe("task must be '\(Self.task)' (got '\(task)')") }
        name = try c.decode(String.self, forKey: .name)
        data = try c.decode(DataSection.self, forKey: .data)
        subwords = try c.decodeIfPresent(Subwords.self, forKey: .subwords) ?? Subwords()
        model = try c.decode(ModelSpec.self, forKey: .model)
        optimizer = try c.decodeIfPresent(OptimizerSection.self, forKey: .optimizer) ?? OptimizerSection()
        labelSmoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? 0.1
        batchTokens = try c.decodeIfPresent(Int.self, forKey: .batchTokens) ?? 4096
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? 10
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
        promote = try c.decodeIfPresent(Bool.self, forKey: .promote)
    }

    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(Self.task, forKey: .task)
        try c.encode(data, forKey: .data)
        try c.encode(subwords, forKey: .subwords)
        try c.encode(model, forKey: .model)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(labelSmoothing, forKey: .labelSmoothing)
        try c.encode(batchTokens, forKey: .batchTokens)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(promote, forKey: .promote)
    }
}
