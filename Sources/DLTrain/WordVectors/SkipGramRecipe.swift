import DLNN
import DLText
import Foundation

/// A recipe that trains word vectors by skip-gram with negative sampling over
/// a text corpus and publishes them as a word-vector model (the layout of
/// glove-6b-50d, `WordVectorFiles`), served by the nearest/analogy/debias routes:
///
///     {
///       "name": "skipgram-demo",
///       "task": "word_vectors",
///       "corpus": {"path": "data/sentiment-rt/train.tsv", "column": 1, "lowercase": true},
///       "min_count": 3, "max_words": 20000,
///       "dim": 50, "window": 5, "negatives": 5, "epochs": 5,
///       "optimizer": "sgd", "lr": 0.025, "subsample": 0.001, "noise_power": 0.75, "seed": 1
///     }
///
/// `task` must be "word_vectors" (it tells this recipe from a classifier's
/// `Recipe`: see `isRecipe`). `corpus.path` is relative to the
/// directory the run starts in; `column` picks a tab-separated column (none:
/// the whole line is the sentence). Unknown fields are errors; every error is
/// `TrainingError.invalidRecipe` naming the field.
public struct SkipGramRecipe: TaskRecipe, Codable, Equatable, Sendable {
    public struct Corpus: Codable, Equatable, Sendable {
        public var path: String
        public var column: Int?
        public var lowercase: Bool

        public init(path: String, column: Int? = nil, lowercase: Bool = true) {
            self.path = path
            self.column = column
            self.lowercase = lowercase
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case path, column, lowercase }

        public init(from d: Decoder) throws {
            try SkipGramRecipe.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue), in: "corpus.")
            let c = try d.container(keyedBy: CodingKeys.self)
            path = try c.decode(String.self, forKey: .path)
            column = try c.decodeIfPresent(Int.self, forKey: .column)
            lowercase = try c.decodeIfPresent(Bool.self, forKey: .lowercase) ?? true
        }
    }

    public static let task = "word_vectors"

    public var name: String
    public var corpus: Corpus
    public var minCount: Int
    public var maxWords: Int
    public var options: SkipGramTrainer.Options

    public init(name: String, corpus: Corpus, minCount: Int = 1, maxWords: Int = 50_000, options: SkipGramTrainer.Options = .init()) {
        self.name = name
        self.corpus = corpus
        self.minCount = minCount
        self.maxWords = maxWords
        self.options = options
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, task, corpus
        case minCount = "min_count", maxWords = "max_words"
    }
    typealias OptionKeys = SkipGramTrainer.Options.CodingKeys

    public init(from d: Decoder) throws {
        try Self.rejectUnknown(d, CodingKeys.allCases.map(\.rawValue) + OptionKeys.allCases.map(\.rawValue), in: "")
        let c = try d.container(keyedBy: CodingKeys.self)
        let task = try c.decode(String.self, forKey: .task)
        guard task == Self.task else { throw TrainingError.invalidRecipe("task must be '\(Self.task)' (got '\(task)')") }
        name = try c.decode(String.self, forKey: .name)
        corpus = try c.decode(Corpus.self, forKey: .corpus)
        minCount = try c.decodeIfPresent(Int.self, forKey: .minCount) ?? 1
        maxWords = try c.decodeIfPresent(Int.self, forKey: .maxWords) ?? 50_000
        let o = try d.container(keyedBy: OptionKeys.self)
        var options = SkipGramTrainer.Options()
        options.dim = try o.decodeIfPresent(Int.self, forKey: .dim) ?? options.dim
        options.window = try o.decodeIfPresent(Int.self, forKey: .window) ?? options.window
        options.negatives = try o.decodeIfPresent(Int.self, forKey: .negatives) ?? options.negatives
        options.epochs = try o.decodeIfPresent(Int.self, forKey: .epochs) ?? options.epochs
        options.optimizer = try o.decodeIfPresent(String.self, forKey: .optimizer) ?? options.optimizer
        options.lr = try o.decodeIfPresent(Float.self, forKey: .lr) ?? options.lr
        options.subsample = try o.decodeIfPresent(Double.self, forKey: .subsample) ?? options.subsample
        options.noisePower = try o.decodeIfPresent(Double.self, forKey: .noisePower) ?? options.noisePower
        options.seed = try o.decodeIfPresent(UInt64.self, forKey: .seed) ?? options.seed
        self.options = options
    }

    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(Self.task, forKey: .task)
        try c.encode(corpus, forKey: .corpus)
        try c.encode(minCount, forKey: .minCount)
        try c.encode(maxWords, forKey: .maxWords)
        try options.encode(to: e)
    }

    static func rejectUnknown(_ d: Decoder, _ known: [String], in prefix: String) throws {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        let c = try d.container(keyedBy: Key.self)
        if let bad = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw TrainingError.invalidRecipe("unknown field '\(prefix)\(bad)'")
        }
    }

    /// Checks every field; the message names it.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        guard ModelRepository.isValidName(name) else { throw fail("name: '\(name)' is not a valid model name") }
        guard !corpus.path.isEmpty else { throw fail("corpus.path is empty") }
        if let col = corpus.column, col < 0 { throw fail("corpus.column must be >= 0 (got \(col))") }
        guard minCount >= 1 else { throw fail("min_count must be >= 1 (got \(minCount))") }
        guard (3...1_000_000).contains(maxWords) else { throw fail("max_words must be in 3...1000000 (got \(maxWords))") }
        let o = options
        guard (1...1024).contains(o.dim) else { throw fail("dim must be in 1...1024 (got \(o.dim))") }
        guard (1...20).contains(o.window) else { throw fail("window must be in 1...20 (got \(o.window))") }
        guard (1...50).contains(o.negatives) else { throw fail("negatives must be in 1...50 (got \(o.negatives))") }
        guard (1...1000).contains(o.epochs) else { throw fail("epochs must be in 1...1000 (got \(o.epochs))") }
        guard ["sgd", "adam"].contains(o.optimizer) else { throw fail("optimizer must be 'sgd' or 'adam' (got '\(o.optimizer)')") }
        guard o.lr.isFinite, o.lr > 0, o.lr <= 1 else { throw fail("lr must be in (0, 1] (got \(o.lr))") }
        guard o.subsample.isFinite, (0...1).contains(o.subsample) else { throw fail("subsample must be in [0, 1] (got \(o.subsample))") }
        guard o.noisePower.isFinite, (0...1).contains(o.noisePower) else { throw fail("noise_power must be in [0, 1] (got \(o.noisePower))") }
    }
}
