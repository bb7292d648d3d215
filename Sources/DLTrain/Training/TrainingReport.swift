import DLNN
import DLText
import Foundation

/// metrics.json of a trained version: the test-set evaluation (accuracy, loss,
/// per-class accuracy, confusion matrix), the final dev evaluation, the
/// per-epoch history and the cost of training.
public struct TrainingReport: Codable, Equatable, Sendable {
    public var dataset: String
    public var testAccuracy: Float?
    public var testLoss: Float?
    /// Class name -> accuracy on the test set.
    public var perClassAccuracy: [String: Float]?
    public var test: Evaluation?
    public var dev: Evaluation?
    public var trainImages: Int
    public var devImages: Int
    public var testImages: Int
    public var parameters: Int
    public var epochs: Int
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    /// Wall time of training (epochs including dev evaluation).
    public var trainingSeconds: Double
    public var imagesPerSecond: Double
    /// Process CPU time of training (user + system, every thread).
    public var cpuSeconds: Double
    public var history: [EpochMetrics]
    public var seed: UInt64
    public var baseVersion: Int?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case dataset, test, dev, parameters, epochs, history, seed
        case testAccuracy = "test_accuracy", testLoss = "test_loss", perClassAccuracy = "per_class_accuracy"
        case trainImages = "train_images", devImages = "dev_images", testImages = "test_images"
        case bestEpoch = "best_epoch", stoppedEarly = "stopped_early", trainingSeconds = "training_seconds"
        case imagesPerSecond = "images_per_second", cpuSeconds = "cpu_seconds", baseVersion = "base_version", createdAt = "created_at"
    }
}

extension TrainingPlan {
    /// Evaluates the trained model on the test split (and dev) and gathers the metrics.
    public func report(model: GraphModel, summary: TrainingSummary, now: Date = Date()) -> TrainingReport {
        let test = self.test.map { Evaluator.evaluate(model, on: $0, normalization: normalization, batchSize: config.evaluationBatchSize) }
        let dev = self.dev.map { Evaluator.evaluate(model, on: $0, normalization: normalization, batchSize: config.evaluationBatchSize) }
        let perClass = test.map { e in Dictionary(uniqueKeysWithValues: zip(labels, e.perClass.map(\.accuracy))) }
        let f = ISO8601DateFormatter()
        return TrainingReport(
            dataset: recipe.dataset.name, testAccuracy: test?.accuracy, testLoss: test?.loss, perClassAccuracy: perClass,
            test: test, dev: dev, trainImages: train.count, devImages: self.dev?.count ?? 0, testImages: self.test?.count ?? 0,
            parameters: model.parameterCount, epochs: summary.history.count, bestEpoch: summary.bestEpoch,
            stoppedEarly: summary.stoppedEarly, trainingSeconds: summary.seconds, imagesPerSecond: summary.imagesPerSecond,
            cpuSeconds: summary.cpuSeconds,
            history: summary.history, seed: recipe.seed, baseVersion: baseVersion, createdAt: f.string(from: now))
    }

    /// Writes config.json when the model is new, then publishes `model` as the
    /// next version (model.json, weights.safetensors, metrics.json, recipe.json)
    /// atomically. Returns the version number.
    @discardableResult
    public func publish(_ model: GraphModel, report: TrainingReport, to repository: ModelRepository) throws -> Int {
        if try Self.existingConfig(recipe.name, in: repository) == nil {
            try repository.writeConfig(modelConfig)
        }
        return try repository.publish(name: recipe.name) { dir in
            try save(model, to: dir)
            try JSONFile.write(report, to: dir.appendingPathComponent(ModelRepository.metricsFileName))
            try JSONFile.write(recipe, to: dir.appendingPathComponent(ModelRepository.recipeFileName))
        }
    }

    /// The version's own files: model.json and weights.safetensors, and a
    /// text model's vocabulary (the files a version needs to be served).
    public func save(_ model: GraphModel, to dir: URL) throws {
        try model.save(to: dir)
        if let vocabulary {
            try AtomicFile.write(Data(vocabulary.fileContents.utf8), to: dir.appendingPathComponent(modelConfig.input.text?.vocabulary ?? "vocab.txt"))
        }
    }
}
