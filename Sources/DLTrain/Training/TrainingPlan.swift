import DLNN
import DLText
import DLTensor
import Foundation

/// A recipe resolved against the datasets and the model repository: the
/// model to train (fresh, or a base model's weights), the train/dev/test
/// splits, the normalization and the training configuration. `dlserve train`
/// and the job queue both go through here:
///
///     let plan = try TrainingPlan(recipe: r, datasets: registry, repository: repo)
///     let trainer = plan.makeTrainer()          // set onEvent, isCancelled, epochFinished
///     let summary = try trainer.fit()
///     let report = plan.report(trainer: trainer, summary: summary)
///     let version = try plan.publish(trainer.model, report: report, to: repo)
///
/// Normalization belongs to the model name: config.json is shared by every
/// version, so when the repository already has a config for `recipe.name` (or
/// the recipe fine-tunes a base model) its mean/std are reused; otherwise they
/// are computed on the training split and written with the first version.
public struct TrainingPlan: @unchecked Sendable {
    public let recipe: Recipe
    public let model: GraphModel
    public let train: Dataset
    public let dev: Dataset?
    public let test: Dataset?
    public let labels: [String]
    public let normalization: Normalization?
    public let config: TrainingConfig
    /// The base model's version when fine-tuning.
    public let baseVersion: Int?
    /// The config.json the published model will have (existing, or new).
    public let modelConfig: ModelConfig
    /// A text model's vocabulary, published as `vocab.txt` with each version.
    public let vocabulary: Vocabulary?

    /// Validates the recipe, loads the data and builds the model. Throws
    /// `TrainingError.invalidRecipe` naming the field for anything wrong.
    public init(recipe: Recipe, datasets: DatasetRegistry, repository: ModelRepository? = nil,
                limits: RecipeLimits = .default, loadTest: Bool = true) throws {
        try recipe.validate(limits: limits)
        let ref = DatasetReference(name: recipe.dataset.name, split: .train)
        var full: Dataset
        do { full = try datasets.load(ref) } catch TrainingError.dataset(let m) {
            throw TrainingError.invalidRecipe("dataset.name: \(m)")
        }
        if let l = recipe.dataset.limit { full = full.prefix(l) }
        guard full.count <= limits.maxTrainImages else {
            throw TrainingError.invalidRecipe(
                "dataset '\(ref.name)' has \(full.count) training images, more than the maximum of \(limits.maxTrainImages) (set dataset.limit)")
        }
        let isText = full.vocabulary != nil
        var split = full.split(devFraction: recipe.dataset.devFraction, seed: SeedStream.derive(recipe.seed, .split))
        // A text dataset that ships a dev split uses it (dev_fraction is then ignored).
        if isText, let dev = try datasets.loadDev(ref.name) { split = (full, dev) }
        guard split.train.count >= 1 else { throw TrainingError.invalidRecipe("dataset.limit leaves no training images") }
        var test: Dataset?
        if loadTest, (try? datasets.validate(DatasetReference(name: ref.name, split: .test))) != nil {
            test = try datasets.load(DatasetReference(name: ref.name, split: .test))
            if let l = recipe.dataset.testLimit { test = test!.prefix(l) }
        }
        var recipe = recipe
        if let vocab = full.vocabulary { recipe.model.architecture = recipe.model.architecture.map { Self.sized($0, vocabulary: vocab) } }
        let (labels, built, existing) = try Self.resolve(
            recipe, imageShape: isText ? [-1] : full.imageShape, classes: full.classes, repository: repository, limits: limits)
        if let e = recipe.model.embeddings, let vocab = full.vocabulary {
            guard let i = built.model.order.firstIndex(where: { $0.name == e.layer }), let layer = built.model.layers[i] as? Embedding else {
                throw TrainingError.invalidRecipe("model.embeddings.layer: '\(e.layer)' is not an embedding layer of the model")
            }
            guard let repository else { throw TrainingError.invalidRecipe("model.embeddings.vectors: no model repository") }
            let dir: URL
            do { dir = try repository.directory(of: e.vectors, version: try repository.versions(of: e.vectors).max() ?? 1) } catch {
                throw TrainingError.invalidRecipe("model.embeddings.vectors: \(error) (make glove prepares glove-6b-50d)")
            }
            try TextDataset.initialize(layer, vocabulary: vocab, from: dir)
        }
        let channels = isText ? 1 : full.imageShape[0]
        let normalization: Normalization?
        if isText {
            normalization = nil
        } else if let pre = (existing ?? built.baseConfig)?.input.preprocessing {
            normalization = pre.mean == [0] && pre.std == [1] ? nil
                : Normalization(mean: Self.perChannel(pre.mean, channels), std: Self.perChannel(pre.std, channels))
        } else {
            normalization = recipe.normalize ? Normalization.fit(split.train.images) : nil
        }
        let preprocessing = ModelConfig.Preprocessing(
            scale: 1.0 / 255, mean: normalization?.mean ?? [0], std: normalization?.std ?? [1])
        let color: ModelConfig.Color = channels == 3 ? .rgb : .grayscale
        self.modelConfig = existing ?? ModelConfig(
            name: recipe.name, task: isText ? .sentiment : .classification, labels: labels,
            input: isText ? ModelConfig.Input(shape: [-1], text: ModelConfig.TextInput())
                : ModelConfig.Input(shape: full.imageShape, color: color, preprocessing: preprocessing),
            serving: built.baseConfig?.serving ?? ModelConfig.Serving())
        self.vocabulary = full.vocabulary

        self.recipe = recipe
        self.model = built.model
        self.train = split.train
        self.dev = split.dev
        self.test = test
        self.labels = labels
        self.normalization = normalization
        self.baseVersion = built.baseVersion
        self.config = TrainingConfig(
            epochs: recipe.epochs, batchSize: recipe.batchSize, seed: recipe.seed, learningRate: recipe.optimizer.lr,
            schedule: try recipe.schedule(), rule: recipe.updateRule(), l2: recipe.l2, clipNorm: recipe.optimizer.clipNorm,
            earlyStoppingPatience: recipe.earlyStopping?.patience, earlyStoppingMinDelta: recipe.earlyStopping?.minDelta ?? 0,
            augmentation: recipe.augmentation ?? Augmentation(), normalization: normalization)
    }

    /// The model's config.json, nil when the model does not exist yet (a bad config is an error).
    static func existingConfig(_ name: String, in repo: ModelRepository) throws -> ModelConfig? {
        let file = try repo.directory(of: name).appendingPathComponent(ModelRepository.configFileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try repo.config(of: name)
    }

    /// A text architecture with each embedding's missing `vocab_size` set to
    /// the size of the vocabulary built from the training split.
    static func sized(_ spec: ModelSpec, vocabulary: Vocabulary) -> ModelSpec {
        var spec = spec
        for i in spec.layers.indices where spec.layers[i].type == "embedding" && spec.layers[i].attrs["vocab_size"] == nil {
            spec.layers[i].attrs["vocab_size"] = .number(Double(vocabulary.count))
        }
        return spec
    }

    static func perChannel(_ v: [Float], _ c: Int) -> [Float] { v.count == c ? v : [Float](repeating: v[0], count: c) }

    /// Checks a recipe against the datasets and the repository without loading
    /// any image: the fields, that the dataset exists and is within the limits,
    /// and that the model builds, fits the images and has one output per class.
    /// What `POST /v1/jobs` calls before accepting a job (it answers 400 with
    /// the message, which names the field).
    public static func check(_ recipe: Recipe, datasets: DatasetRegistry, repository: ModelRepository? = nil,
                             limits: RecipeLimits = .default) throws {
        try recipe.validate(limits: limits)
        let info: DatasetRegistry.Info
        do { info = try datasets.describe(DatasetReference(name: recipe.dataset.name, split: .train)) } catch TrainingError.dataset(let m) {
            throw TrainingError.invalidRecipe("dataset.name: \(m)")
        }
        let count = min(recipe.dataset.limit ?? info.count, info.count)
        guard count <= limits.maxTrainImages else {
            throw TrainingError.invalidRecipe(
                "dataset '\(recipe.dataset.name)' has \(count) training images, more than the maximum of \(limits.maxTrainImages) (set dataset.limit)")
        }
        var recipe = recipe
        if let dir = datasets.textDirectory(recipe.dataset.name) {
            let vocab: Vocabulary
            do { vocab = try TextDataset.vocabulary(dir) } catch TrainingError.dataset(let m) { throw TrainingError.invalidRecipe("dataset.name: \(m)") }
            recipe.model.architecture = recipe.model.architecture.map { sized($0, vocabulary: vocab) }
        }
        _ = try resolve(recipe, imageShape: info.imageShape, classes: info.classes, repository: repository, limits: limits)
    }

    /// Labels, the model and the existing config.json, checked against each other.
    static func resolve(_ recipe: Recipe, imageShape: [Int], classes: [String], repository: ModelRepository?, limits: RecipeLimits)
        throws -> (labels: [String], built: (model: GraphModel, baseVersion: Int?, baseConfig: ModelConfig?), existing: ModelConfig?)
    {
        var labels = classes
        if let l = recipe.labels {
            guard l.count == classes.count else {
                throw TrainingError.invalidRecipe("labels: \(l.count) names for the \(classes.count) classes of '\(recipe.dataset.name)'")
            }
            labels = l
        }
        let built = try buildModel(recipe, imageShape: imageShape, classes: labels.count, repository: repository)
        guard built.model.parameterCount <= limits.maxParameters else {
            throw TrainingError.invalidRecipe("model has \(built.model.parameterCount) parameters, more than the maximum of \(limits.maxParameters)")
        }
        let existing: ModelConfig?
        do { existing = try repository.flatMap { try existingConfig(recipe.name, in: $0) } } catch let e as RepositoryError {
            throw TrainingError.invalidRecipe("name: \(e)")
        }
        if let existing {
            if existing.labels != labels {
                throw TrainingError.invalidRecipe("labels: model '\(recipe.name)' already has labels \(existing.labels), this recipe gives \(labels)")
            }
            if let m = existing.mismatch(with: built.model) { throw TrainingError.invalidRecipe("model: \(m) (model '\(recipe.name)' already exists)") }
        }
        return (labels, built, existing)
    }

    static func buildModel(_ recipe: Recipe, imageShape: [Int], classes: Int, repository: ModelRepository?) throws
        -> (model: GraphModel, baseVersion: Int?, baseConfig: ModelConfig?)
    {
        let seed = SeedStream.derive(recipe.seed, .initialization)
        let spec: ModelSpec
        let field: String
        if let p = recipe.model.preset, let preset = ModelPreset(rawValue: p) {
            spec = preset.spec(inputShape: imageShape, classes: classes, width: recipe.model.width, keepProb: recipe.model.keepProb)
            field = "model.preset"
        } else if let a = recipe.model.architecture {
            spec = a
            field = "model.architecture"
            guard a.inputShape == imageShape else {
                throw TrainingError.invalidRecipe("model.architecture.input_shape \(a.inputShape) does not match the images of '\(recipe.dataset.name)' \(imageShape)")
            }
        } else {
            guard let repository, let base = recipe.model.base else {
                throw TrainingError.invalidRecipe("model.base: no model repository to load '\(recipe.model.base ?? "")' from")
            }
            let loaded: LoadedModel
            do {
                let v = try recipe.model.version ?? repository.latestValidVersion(of: base)
                loaded = try repository.load(base, version: v)
            } catch let e as RepositoryError {
                throw TrainingError.invalidRecipe("model.base: \(e)")
            }
            guard loaded.config.input.shape == imageShape else {
                throw TrainingError.invalidRecipe("model.base: '\(base)' takes \(loaded.config.input.shape), the images of '\(recipe.dataset.name)' are \(imageShape)")
            }
            guard loaded.model.outputShape == [classes] else {
                throw TrainingError.invalidRecipe("model.base: '\(base)' has \(loaded.model.outputShape) outputs for the \(classes) classes of '\(recipe.dataset.name)'")
            }
            return (loaded.model, loaded.version, loaded.config)
        }
        let model: GraphModel
        do { model = try GraphModel(spec: spec, seed: seed) } catch let e as ModelError {
            throw TrainingError.invalidRecipe(Self.locate(e, in: spec, field: field))
        }
        guard model.outputShape == [classes] else {
            throw TrainingError.invalidRecipe("\(field): the output '\(spec.output)' has shape \(model.outputShape), expected [\(classes)] for the \(classes) classes of '\(recipe.dataset.name)'")
        }
        return (model, nil, nil)
    }

    /// "model.architecture.layers[3] ('fc'): <message>": the layer is the one the
    /// message names, or else the first that fails when the graph's shapes are
    /// inferred again layer by layer.
    static func locate(_ e: ModelError, in spec: ModelSpec, field: String) -> String {
        let m = "\(e)"
        let index = spec.layers.firstIndex(where: { m.contains("'\($0.name)'") }) ?? failingLayer(spec)
        guard let i = index else { return "\(field): \(m)" }
        return "\(field).layers[\(i)] ('\(spec.layers[i].name)'): \(m)"
    }

    static func failingLayer(_ spec: ModelSpec) -> Int? {
        var shapes: [String: [Int]] = ["input": spec.inputShape]
        var pending = Array(spec.layers.indices)
        let rng = SeededGeneratorBox(seed: 0)
        while let k = pending.firstIndex(where: { spec.layers[$0].inputs.allSatisfy { shapes[$0] != nil } }) {
            let i = pending.remove(at: k), l = spec.layers[i]
            let ins = l.inputs.map { shapes[$0]! }
            guard let layer = try? LayerRegistry.make(l, inputShapes: ins, rng: rng), let out = try? layer.outputShape(ins) else {
                return i
            }
            shapes[l.name] = out
        }
        return pending.first
    }

    /// A trainer for this plan (hooks unset). `blasThreads` as in `TrainingConfig`.
    public func makeTrainer(blasThreads: Int? = nil) -> Trainer {
        var c = config
        c.blasThreads = blasThreads
        return Trainer(model: model, train: train, dev: dev, config: c)
    }
}
