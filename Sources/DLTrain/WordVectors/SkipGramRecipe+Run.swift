import DLNN
import DLText
import Foundation

extension SkipGramRecipe {
    /// What a run produced.
    public struct Outcome: Sendable {
        public var version: Int
        public var words: Int
        public var tokens: Int
        public var epochs: [SkipGramTrainer.Epoch]
    }

    /// The corpus of the recipe, read and encoded (`base` resolves a relative `corpus.path`).
    public func loadCorpus(base: URL) throws -> SkipGramCorpus {
        let url = corpus.path.hasPrefix("/") ? URL(fileURLWithPath: corpus.path) : base.appendingPathComponent(corpus.path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError.invalidRecipe("corpus.path: \(url.path) does not exist")
        }
        let sentences = try SkipGramCorpus.read(url, column: corpus.column, tokenizer: Tokenizer(lowercase: corpus.lowercase))
        let c = SkipGramCorpus(sentences: sentences, minCount: minCount, maxWords: maxWords)
        guard c.vocabulary.count > 2, c.tokenCount > 1 else {
            throw TrainingError.invalidRecipe("corpus: \(url.lastPathComponent) has no word seen \(minCount) times (min_count)")
        }
        return c
    }

    /// Trains and publishes the next version of model `name` in `repository`
    /// (config.json written for a new model; an existing model must be a
    /// word-vector model whose text options match). metrics.json holds the
    /// corpus figures and each epoch's loss; recipe.json this recipe.
    @discardableResult
    public func run(base: URL, repository: ModelRepository, onEpoch: ((SkipGramTrainer.Epoch) -> Void)? = nil,
                    isCancelled: @escaping () -> Bool = { false }) throws -> Outcome {
        try validate()
        let corpus = try loadCorpus(base: base)
        let config = WordVectorFiles.config(name: name, lowercase: self.corpus.lowercase)
        do {
            let file = try repository.directory(of: name).appendingPathComponent(ModelRepository.configFileName)
            if FileManager.default.fileExists(atPath: file.path) {
                let existing = try repository.config(of: name)
                guard existing.task == .wordVectors, existing.input.text?.lowercase == self.corpus.lowercase else {
                    throw TrainingError.invalidRecipe(
                        "name: model '\(name)' exists and is not a word-vector model with input.text.lowercase \(self.corpus.lowercase)")
                }
            } else {
                try repository.writeConfig(config)
            }
        } catch let e as RepositoryError {
            throw TrainingError.invalidRecipe("name: \(e)")
        }
        let trainer = SkipGramTrainer(corpus: corpus, options: options)
        trainer.onEpoch = onEpoch
        trainer.isCancelled = isCancelled
        let epochs = try trainer.train()
        let metrics: [String: JSONValue] = [
            "task": .string(Self.task),
            "words": .number(Double(corpus.vocabulary.count - WordVectorFiles.reservedWords.count)),
            "dim": .number(Double(options.dim)),
            "tokens": .number(Double(corpus.tokenCount)),
            "sentences": .number(Double(corpus.sentences.count)),
            "loss_first_epoch": .number(epochs.first?.loss ?? 0),
            "loss_last_epoch": .number(epochs.last?.loss ?? 0),
            "epochs": .array(epochs.map { .object(["epoch": .number(Double($0.epoch)), "loss": .number($0.loss),
                                                   "pairs": .number(Double($0.pairs)), "seconds": .number($0.seconds)]) }),
        ]
        let version = try repository.publish(name: name) { dir in
            try WordVectorFiles.writeVersion(words: corpus.vocabulary.words, vectors: trainer.vectors, metrics: .object(metrics), to: dir)
            try JSONFile.write(self, to: dir.appendingPathComponent(ModelRepository.recipeFileName))
        }
        return Outcome(version: version, words: corpus.vocabulary.count, tokens: corpus.tokenCount, epochs: epochs)
    }
}
