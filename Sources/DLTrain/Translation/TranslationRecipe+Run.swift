import DLNN
import DLText
import Foundation

extension TranslationRecipe {
    /// What a run produced.
    public struct Outcome: Sendable {
        public var version: Int
        public var parameters: Int
        public var trainPairs: Int
        public var devPairs: Int
        public var history: [TranslationEpoch]
    }

    /// The training and dev files (`base` resolves relative paths).
    public func dataURLs(base: URL) -> (train: URL, dev: URL) {
        func resolve(_ p: String, _ b: URL) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : b.appendingPathComponent(p) }
        let dir = data.dir.map { resolve($0, base) } ?? base
        return (resolve(data.train, dir), resolve(data.dev, dir))
    }

    /// The directory beside a checkpoint file where the run keeps its subword files.
    public static func subwordsDirectory(for checkpoint: URL) -> URL {
        checkpoint.deletingLastPathComponent().appendingPathComponent(checkpoint.lastPathComponent + ".subwords", isDirectory: true)
    }

    /// config.json of the model.
    public func config(subwords: TranslationSubwords) -> ModelConfig {
        let vocabulary = (subwords.shared ? TranslationSubwords.sharedName : TranslationSubwords.sourceName) + ".vocab.txt"
        return ModelConfig(name: name, task: .translation, labels: [],
                           input: .init(shape: [-1], text: .init(vocabulary: vocabulary, lowercase: false, maxLength: data.maxLength)))
    }

    /// A trained model with everything its version holds.
    public struct Trained {
        public var model: GraphModel
        public var subwords: TranslationSubwords
        public var history: [TranslationEpoch]
        public var trainPairs: Int
        public var devPairs: Int
        /// config.json for a new model.
        public var config: ModelConfig
        /// metrics.json.
        public var metrics: Data
    }

    /// Reads the data, learns the subwords (or, resuming from `checkpoint`,
    /// loads the ones it recorded) and trains. With `checkpoint`, a
    /// checkpoint is saved after every epoch (`configure` may replace that
    /// hook) and a run resumes from it when the file exists.
    public func train(base: URL, checkpoint: URL? = nil,
                      configure: ((TranslationTrainer) throws -> Void)? = nil,
                      isCancelled: @escaping () -> Bool = { false }) throws -> Trained {
        try validate()
        let urls = dataURLs(base: base)
        let trainText = try TranslationPairs.read(urls.train, limit: data.limit)
        let devText = try TranslationPairs.read(urls.dev, limit: data.devLimit)
        guard !trainText.isEmpty else { throw TrainingError.dataset("\(urls.train.path): no pairs") }
        guard !devText.isEmpty else { throw TrainingError.dataset("\(urls.dev.path): no pairs") }

        var resumeFrom: TranslationCheckpoint?
        let subwords: TranslationSubwords
        var subwordsPath = ""
        if let checkpoint, FileManager.default.fileExists(atPath: checkpoint.path) {
            let c = try TranslationCheckpoint.load(from: checkpoint)
            do { subwords = try TranslationSubwords.load(from: URL(fileURLWithPath: c.subwordsDirectory)) } catch {
                throw TrainingError.checkpoint("subword files of \(checkpoint.path): \(error)")
            }
            resumeFrom = c
        } else {
            subwords = TranslationSubwords.learn(trainText, shared: self.subwords.shared, options: BPEOptions(merges: self.subwords.merges))
            if let checkpoint {
                let dir = Self.subwordsDirectory(for: checkpoint)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try subwords.write(to: dir)
                subwordsPath = dir.path
            }
        }
        let train = TranslationPairs.encode(trainText, with: subwords, maxLength: data.maxLength)
        let dev = TranslationPairs.encode(devText, with: subwords)
        guard !train.isEmpty else { throw TrainingError.dataset("no training pair is within data.max_length \(data.maxLength)") }

        let spec = resolvedModel(sourceVocabulary: subwords.source.model.count, targetVocabulary: subwords.target.model.count)
        let model: GraphModel
        do { model = try GraphModel(spec: spec, seed: SeedStream.derive(seed, .initialization)) } catch let e as ModelError {
            throw TrainingError.invalidRecipe("model: \(e.description)")
        }
        let trainer = TranslationTrainer(model: model, train: train, dev: dev, options: .init(
            epochs: epochs, seed: seed, batchTokens: batchTokens, labelSmoothing: labelSmoothing, optimizer: optimizer))
        trainer.subwordsDirectory = subwordsPath
        if data.bleuSentences > 0 {
            let n = min(data.bleuSentences, devText.count)
            trainer.bleu = (zip(dev.prefix(n), devText.prefix(n)).map { ($0.source, $1.target) }, subwords.decodeTarget)
        }
        trainer.isCancelled = isCancelled
        if let resumeFrom { try trainer.resume(from: resumeFrom) }
        if let checkpoint { trainer.epochFinished = { try $0.save(to: checkpoint) } }
        try configure?(trainer)
        let history = try trainer.fit()
        let metrics = Metrics(task: Self.task, parameters: model.parameterCount, trainPairs: train.count, devPairs: dev.count,
                              sourceVocabulary: subwords.source.model.count, targetVocabulary: subwords.target.model.count,
                              devLoss: history.last?.devLoss, devAccuracy: history.last?.devAccuracy, devBLEU: history.last?.devBLEU,
                              epochs: history)
        return Trained(model: model, subwords: subwords, history: history, trainPairs: train.count, devPairs: dev.count,
                       config: config(subwords: subwords), metrics: try JSONFile.encode(metrics))
    }

    /// Writes a trained model's version files into `dir`: model.json,
    /// weights.safetensors, the bpe files and recipe.json (not metrics.json).
    public func save(_ trained: Trained, to dir: URL) throws {
        try trained.model.save(to: dir)
        try trained.subwords.write(to: dir)
        try JSONFile.write(self, to: dir.appendingPathComponent(ModelRepository.recipeFileName))
    }

    /// `train`, then publishes the next version of `name`: the files of
    /// `save` and metrics.json (per-epoch train loss and accuracy, dev loss,
    /// dev accuracy, dev BLEU); config.json for a new model.
    @discardableResult
    public func run(base: URL, repository: ModelRepository, checkpoint: URL? = nil,
                    configure: ((TranslationTrainer) throws -> Void)? = nil,
                    isCancelled: @escaping () -> Bool = { false }) throws -> Outcome {
        let trained = try train(base: base, checkpoint: checkpoint, configure: configure, isCancelled: isCancelled)
        let version = try repository.publishTrained(name: name, config: trained.config, taskName: "translation",
                                                    metrics: trained.metrics) { try save(trained, to: $0) }
        return Outcome(version: version, parameters: trained.model.parameterCount, trainPairs: trained.trainPairs,
                       devPairs: trained.devPairs, history: trained.history)
    }

    /// metrics.json of a published translation model.
    struct Metrics: Encodable {
        var task: String
        var parameters: Int
        var trainPairs: Int
        var devPairs: Int
        var sourceVocabulary: Int
        var targetVocabulary: Int
        var devLoss: Float?
        var devAccuracy: Float?
        var devBLEU: Double?
        var epochs: [TranslationEpoch]

        enum CodingKeys: String, CodingKey {
            case task, parameters, epochs
            case trainPairs = "train_pairs", devPairs = "dev_pairs", sourceVocabulary = "source_vocabulary"
            case targetVocabulary = "target_vocabulary", devLoss = "dev_loss", devAccuracy = "dev_accuracy", devBLEU = "dev_bleu"
        }
    }
}
