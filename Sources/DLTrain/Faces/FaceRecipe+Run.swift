import DLNN
import DLVision
import Foundation

extension FaceRecipe {
    /// Checks every field; the message names it.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        guard ModelRepository.isValidName(name) else { throw fail("name: '\(name)' is not a valid model name") }
        guard !data.train.isEmpty else { throw fail("data.train is empty") }
        guard data.devIdentities >= 0 else { throw fail("data.dev_identities must be >= 0 (got \(data.devIdentities))") }
        guard (1...100_000).contains(data.devPairs) else { throw fail("data.dev_pairs must be in 1...100000 (got \(data.devPairs))") }
        do { _ = try input.imagePreprocessing() } catch let e as PreprocessingError { throw fail("input: \(e.message)") }
        guard objective.alpha.isFinite, objective.alpha > 0 else { throw fail("objective.alpha must be > 0 (got \(objective.alpha))") }
        guard (2...1024).contains(batch.identities) else { throw fail("batch.identities must be in 2...1024 (got \(batch.identities))") }
        guard (1...256).contains(batch.images), objective.loss == .siamese || batch.images >= 2 else {
            throw fail("batch.images must be in 2...256 for the triplet loss, 1...256 for siamese (got \(batch.images))")
        }
        guard batch.identities * batch.images <= 4096 else { throw fail("batch.identities x batch.images must be <= 4096") }
        guard (1...1_000_000).contains(stepsPerEpoch) else { throw fail("steps_per_epoch must be in 1...1000000 (got \(stepsPerEpoch))") }
        guard (0...1).contains(augmentation.flip) else { throw fail("augmentation.flip must be in [0, 1] (got \(augmentation.flip))") }
        guard (0...64).contains(augmentation.shift) else { throw fail("augmentation.shift must be in 0...64 (got \(augmentation.shift))") }
        guard (0...45).contains(augmentation.rotate) else { throw fail("augmentation.rotate must be in 0...45 degrees (got \(augmentation.rotate))") }
        guard (0...1).contains(augmentation.erase) else { throw fail("augmentation.erase must be in [0, 1] (got \(augmentation.erase))") }
        try optimizer.validate()
        guard (1...10_000).contains(epochs) else { throw fail("epochs must be in 1...10000 (got \(epochs))") }
        if let p = VerificationFile(dim: 1, tau: 0, viewShifts: viewShifts).problem { throw fail(p) }
        _ = try buildModel()
    }

    /// The model: one input of `input.shape`, one output (the embedding, [D] or anything flattening to it).
    func buildModel(seed: UInt64 = 0) throws -> GraphModel {
        func fail(_ m: String) -> TrainingError { .invalidRecipe("model: \(m)") }
        guard model.inputs.count == 1, model.inputs[0].shape == input.shape else {
            throw fail("needs one input of shape \(input.shape), as input.shape (got \(model.inputs.map(\.shape)))")
        }
        guard model.outputs.count == 1 else { throw fail("needs exactly one output, the embedding (got \(model.outputs))") }
        let built: GraphModel
        do { built = try GraphModel(spec: model, seed: seed) } catch let e as ModelError { throw fail(e.description) }
        guard built.outputShape.count == 1 else { throw fail("the output must be a vector [D] (got \(built.outputShape))") }
        return built
    }

    /// What a run produced.
    public struct Trained {
        public var model: GraphModel
        public var verification: VerificationFile
        public var history: [FaceTrainer.Epoch]
        public var trainIdentities: Int
        public var trainPhotos: Int
        public var devIdentities: Int
    }

    /// Reads the photos, holds out the dev people and trains. With
    /// `checkpoint`, a checkpoint is saved after every epoch and a run
    /// resumes from it when the file exists.
    public func train(base: URL, checkpoint: URL? = nil, configure: ((FaceTrainer) throws -> Void)? = nil,
                      isCancelled: @escaping () -> Bool = { false }) throws -> Trained {
        try validate()
        func resolve(_ p: String, _ b: URL) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : b.appendingPathComponent(p) }
        let dir = resolve(data.train, data.dir.map { resolve($0, base) } ?? base)
        let all = try FaceSet.load(dir, preprocessing: try input.imagePreprocessing())
        guard all.names.count >= data.devIdentities + 2 else {
            throw TrainingError.dataset("\(dir.path): \(all.names.count) people leave fewer than 2 for training after data.dev_identities \(data.devIdentities)")
        }
        let devNames = Set(all.names.suffix(data.devIdentities))
        let train = all.subset(Set(all.names).subtracting(devNames))
        let model = try buildModel(seed: SeedStream.derive(seed, .initialization))
        var options = FaceTrainer.Options(
            epochs: epochs, stepsPerEpoch: stepsPerEpoch, identities: min(batch.identities, train.names.count), images: batch.images,
            objective: objective, augmentation: augmentation, learningRate: optimizer.lr, warmupSteps: optimizer.warmupSteps,
            clipNorm: optimizer.clipNorm, seed: seed, flipAverage: flipAverage ?? false)
        (options.viewShifts, options.normalizeMean) = (viewShifts, normalizeMean ?? true)
        let trainer = FaceTrainer(model: model, train: train, options: options)
        if !devNames.isEmpty {
            let dev = all.subset(devNames)
            let pairs = FacePairs.sample(dev, perSide: data.devPairs, seed: SeedStream.derive(seed, .split))
            trainer.dev = (dev, try pairs.indices(in: dev), pairs.pairs.map(\.same))
        }
        trainer.isCancelled = isCancelled
        if let checkpoint {
            if FileManager.default.fileExists(atPath: checkpoint.path) { try trainer.resume(from: FaceCheckpoint.load(from: checkpoint)) }
            trainer.epochFinished = { try $0.save(to: checkpoint) }
        }
        try configure?(trainer)
        let history = try trainer.fit()
        // tau: the dev pairs' best threshold; without dev people, the classifier's own 0 or the unit-vector midpoint 1.
        let tau = trainer.devScore()?.tau ?? (objective.loss == .siamese ? 0 : 1)
        return Trained(model: model, verification: trainer.verificationFile(tau: tau), history: history,
                       trainIdentities: train.names.count, trainPhotos: train.count, devIdentities: devNames.count)
    }

    /// config.json of the model.
    public func config() -> ModelConfig {
        ModelConfig(name: name, task: .embedding, labels: [], input: input)
    }

    /// Writes a trained model's version files into `dir`: model.json,
    /// weights.safetensors, verification.json and recipe.json (not metrics.json).
    public func save(_ trained: Trained, to dir: URL) throws {
        try trained.model.save(to: dir)
        try JSONFile.write(trained.verification, to: dir.appendingPathComponent(VerificationFile.fileName))
        try JSONFile.write(self, to: dir.appendingPathComponent(ModelRepository.recipeFileName))
    }

    /// metrics.json: parameters, data sizes, per-epoch losses and dev scores, tau.
    public func metrics(_ trained: Trained) throws -> Data {
        try JSONFile.encode(Metrics(task: Self.task, parameters: trained.model.parameterCount, trainIdentities: trained.trainIdentities,
                                    trainPhotos: trained.trainPhotos, devIdentities: trained.devIdentities,
                                    tau: trained.verification.tau, epochs: trained.history))
    }

    /// `train`, then publishes the next version: the files of `save` and metrics.json.
    @discardableResult
    public func run(base: URL, repository: ModelRepository, checkpoint: URL? = nil,
                    configure: ((FaceTrainer) throws -> Void)? = nil) throws -> (version: Int, trained: Trained) {
        let trained = try train(base: base, checkpoint: checkpoint, configure: configure)
        let version = try repository.publishTrained(name: name, config: config(), taskName: "embedding",
                                                    metrics: try metrics(trained)) { try save(trained, to: $0) }
        return (version, trained)
    }

    struct Metrics: Encodable {
        var task: String
        var parameters: Int
        var trainIdentities: Int
        var trainPhotos: Int
        var devIdentities: Int
        var tau: Double
        var epochs: [FaceTrainer.Epoch]
        enum CodingKeys: String, CodingKey {
            case task, parameters, tau, epochs
            case trainIdentities = "train_identities", trainPhotos = "train_photos", devIdentities = "dev_identities"
        }
    }
}
