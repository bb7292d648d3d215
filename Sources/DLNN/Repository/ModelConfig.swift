import Foundation

/// `models/NAME/config.json`: what a model is for and how to serve it. Shared by
/// every version of the model. JSON keys are snake_case; every field except
/// `name`, `task` and `input.shape` has a default; unknown keys are rejected so
/// that a typo ("max_batchsize") is an error instead of a silent default.
///
///     {
///       "name": "fashion-mnist",
///       "task": "classification",
///       "labels": ["T-shirt/top", "Trouser", ...],
///       "input": {
///         "shape": [1, 28, 28],
///         "color": "grayscale",
///         "preprocessing": {"scale": 0.00392156862745098, "mean": [0.286], "std": [0.353],
///                           "resize": "auto", "invert": false}
///       },
///       "serving": {"max_batch_size": 32, "max_queue_delay_ms": 0, "queue_capacity": 256,
///                   "timeout_ms": 5000, "version_policy": "latest"}
///     }
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Equal to the model's directory name.
    public var name: String
    public var task: Task
    /// Class names in output order (classification: one per output value).
    public var labels: [String]
    public var input: Input
    public var serving: Serving

    public init(name: String, task: Task = .classification, labels: [String], input: Input, serving: Serving = Serving()) {
        self.name = name
        self.task = task
        self.labels = labels
        self.input = input
        self.serving = serving
    }

    public enum Task: String, Codable, Sendable, CaseIterable {
        case classification, detection, embedding, sentiment, translation
        case wordVectors = "word_vectors"

        /// Tasks whose input is an image, shape [C, H, W].
        public var takesImages: Bool { self == .classification || self == .detection || self == .embedding }
    }

    public enum Color: String, Codable, Sendable, CaseIterable {
        case grayscale, rgb

        public var channels: Int { self == .grayscale ? 1 : 3 }
    }

    /// Image resampling, by the names DLVision's `ResizeMethod` uses.
    public enum Resize: String, Codable, Sendable, CaseIterable {
        /// Area averaging when shrinking, bilinear when enlarging.
        case auto
        case bilinear
        case area
    }

    /// What a request's input is turned into: shape without batch, and for
    /// images the color mode and the preprocessing.
    public struct Input: Codable, Equatable, Sendable {
        /// Without batch; [C, H, W] for images.
        public var shape: [Int]
        public var color: Color
        public var preprocessing: Preprocessing
        /// Text models: how text becomes token ids (nil for image models).
        public var text: TextInput?

        public init(shape: [Int], color: Color = .grayscale, preprocessing: Preprocessing = Preprocessing(), text: TextInput? = nil) {
            self.shape = shape
            self.color = color
            self.preprocessing = preprocessing
            self.text = text
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case shape, color, preprocessing, text }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            shape = try c.decode([Int].self, forKey: .shape)
            color = try c.decodeIfPresent(Color.self, forKey: .color) ?? .grayscale
            preprocessing = try c.decodeIfPresent(Preprocessing.self, forKey: .preprocessing) ?? Preprocessing()
            text = try c.decodeIfPresent(TextInput.self, forKey: .text)
        }

        /// A text model's input has no image fields (color, preprocessing).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(shape, forKey: .shape)
            if let text {
                try c.encode(text, forKey: .text)
            } else {
                try c.encode(color, forKey: .color)
                try c.encode(preprocessing, forKey: .preprocessing)
            }
        }
    }

    /// `input.text` of a text model: `{"vocabulary": "vocab.txt", "lowercase":
    /// true, "max_length": 256}`. The vocabulary file sits in each version's
    /// directory (id 0 padding, id 1 unknown words); texts longer than
    /// `max_length` tokens are refused.
    public struct TextInput: Codable, Equatable, Sendable {
        public var vocabulary: String
        public var lowercase: Bool
        public var maxLength: Int

        public init(vocabulary: String = "vocab.txt", lowercase: Bool = true, maxLength: Int = 256) {
            self.vocabulary = vocabulary
            self.lowercase = lowercase
            self.maxLength = maxLength
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case vocabulary, lowercase
            case maxLength = "max_length"
        }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = TextInput()
            vocabulary = try c.decodeIfPresent(String.self, forKey: .vocabulary) ?? d.vocabulary
            lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase) ?? d.lowercase
            maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        }
    }

    /// Pixel value v (0...255 after decoding) becomes
    /// ((invert ? 255 - v : v) * scale - mean[c]) / std[c].
    public struct Preprocessing: Codable, Equatable, Sendable {
        public var scale: Float
        /// One value, or one per channel.
        public var mean: [Float]
        /// One value, or one per channel; each > 0.
        public var std: [Float]
        public var resize: Resize
        /// For models trained on light-on-dark images (Fashion-MNIST) fed dark-on-light photos.
        public var invert: Bool

        public init(scale: Float = 1.0 / 255, mean: [Float] = [0], std: [Float] = [1], resize: Resize = .auto, invert: Bool = false) {
            self.scale = scale
            self.mean = mean
            self.std = std
            self.resize = resize
            self.invert = invert
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case scale, mean, std, resize, invert }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Preprocessing()
            scale = try c.decodeIfPresent(Float.self, forKey: .scale) ?? d.scale
            mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? d.mean
            std = try c.decodeIfPresent([Float].self, forKey: .std) ?? d.std
            resize = try c.decodeIfPresent(Resize.self, forKey: .resize) ?? d.resize
            invert = try c.decodeIfPresent(Bool.self, forKey: .invert) ?? d.invert
        }
    }

    /// Dynamic batching and queueing for the model's requests.
    public struct Serving: Codable, Equatable, Sendable {
        /// Largest batch run through the model at once.
        public var maxBatchSize: Int
        /// How long the first request of a batch may wait for others, in
        /// milliseconds. 0 (the default): never wait; batches still form under
        /// load from what queues while the workers are busy. On a CPU a batch is
        /// not cheaper per image than single images for convolutional models,
        /// so waiting only adds latency; a positive delay suits models where it
        /// is (dense layers at batch 1 are matrix-vector products).
        public var maxQueueDelayMs: Double
        /// Requests waiting beyond this answer 429.
        public var queueCapacity: Int
        /// A request not answered within this answers 504.
        public var timeoutMs: Int
        public var versionPolicy: VersionPolicy

        public init(maxBatchSize: Int = 32, maxQueueDelayMs: Double = 0, queueCapacity: Int = 256, timeoutMs: Int = 5000,
                    versionPolicy: VersionPolicy = .latest) {
            self.maxBatchSize = maxBatchSize
            self.maxQueueDelayMs = maxQueueDelayMs
            self.queueCapacity = queueCapacity
            self.timeoutMs = timeoutMs
            self.versionPolicy = versionPolicy
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case maxBatchSize = "max_batch_size"
            case maxQueueDelayMs = "max_queue_delay_ms"
            case queueCapacity = "queue_capacity"
            case timeoutMs = "timeout_ms"
            case versionPolicy = "version_policy"
        }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Serving()
            maxBatchSize = try c.decodeIfPresent(Int.self, forKey: .maxBatchSize) ?? d.maxBatchSize
            maxQueueDelayMs = try c.decodeIfPresent(Double.self, forKey: .maxQueueDelayMs) ?? d.maxQueueDelayMs
            queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? d.queueCapacity
            timeoutMs = try c.decodeIfPresent(Int.self, forKey: .timeoutMs) ?? d.timeoutMs
            versionPolicy = try c.decodeIfPresent(VersionPolicy.self, forKey: .versionPolicy) ?? d.versionPolicy
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, task, labels, input, serving }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        task = try c.decode(Task.self, forKey: .task)
        labels = try c.decodeIfPresent([String].self, forKey: .labels) ?? []
        input = try c.decode(Input.self, forKey: .input)
        serving = try c.decodeIfPresent(Serving.self, forKey: .serving) ?? Serving()
    }
}

/// Which versions of a model serve. JSON: `"latest"`, `"all"`, or `{"specific": [1, 3]}`.
public enum VersionPolicy: Codable, Equatable, Sendable {
    /// The highest version that loads.
    case latest
    /// Every version that loads; unpinned requests go to the highest.
    case all
    /// Exactly these versions; unpinned requests go to the highest of them that loads.
    case specific([Int])

    /// The versions to try, best first, out of those on disk.
    public func candidates(_ available: [Int]) -> [Int] {
        let descending = available.sorted(by: >)
        switch self {
        case .latest, .all: return descending
        case .specific(let wanted): return descending.filter(wanted.contains)
        }
    }

    enum SpecificKey: String, CodingKey, CaseIterable { case specific }

    public init(from decoder: Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            switch s {
            case "latest": self = .latest
            case "all": self = .all
            default:
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                    debugDescription: "must be \"latest\", \"all\" or {\"specific\": [versions]}, not \"\(s)\""))
            }
            return
        }
        guard let c = try? decoder.container(keyedBy: SpecificKey.self) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "must be \"latest\", \"all\" or {\"specific\": [versions]}"))
        }
        try rejectUnknownKeys(decoder, SpecificKey.self)
        self = .specific(try c.decode([Int].self, forKey: .specific))
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .latest: var c = encoder.singleValueContainer(); try c.encode("latest")
        case .all: var c = encoder.singleValueContainer(); try c.encode("all")
        case .specific(let v): var c = encoder.container(keyedBy: SpecificKey.self); try c.encode(v, forKey: .specific)
        }
    }
}

/// Any string key, to list an object's keys (strict decoders here and in the tasks).
public struct AnyCodingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}

/// Throws a DecodingError at the first key of the object that `Keys` does not
/// name, listing the known keys.
func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: Decoder, _: Keys.Type) throws {
    let known = Keys.allCases.map(\.stringValue)
    let c = try decoder.container(keyedBy: AnyCodingKey.self)
    for key in c.allKeys.map(\.stringValue).sorted() where !known.contains(key) {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [AnyCodingKey(stringValue: key)],
            debugDescription: "unknown field (known: \(known.joined(separator: ", ")))"))
    }
}
