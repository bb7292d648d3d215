import DLNN
import DLTrain
import Foundation

/// The real trainer of the job queue: a recipe in the format of
/// `dlserve train`, resolved by `TrainingPlan`, trained by `Trainer` with a
/// `TrainingCheckpoint` after every epoch; translation recipes go to
/// `TranslationJob`, detection recipes to `DetectionJob`, face-embedding recipes to `FaceJob`.
///
/// Datasets are "fashion-mnist", the directories of IDX files that an
/// operator placed under STATE/datasets/, and the text datasets (train/dev/
/// test.tsv, `make data-sentiment`) under the registry's text root (a recipe
/// names one by its directory name; names with '/', '..' or a leading '.'
/// are refused, so a job never reads outside those directories). A text
/// model's version gets its vocabulary beside the weights.
public struct RecipeTrainer: JobTrainer {
    public let datasets: DatasetRegistry
    public let repository: ModelRepository

    public init(datasets: DatasetRegistry, repository: ModelRepository) {
        self.datasets = datasets
        self.repository = repository
    }

    /// Fashion-MNIST from its Debian package plus STATE/datasets/.
    public init(stateDirectory: URL, repository: ModelRepository, fashionMNISTRoot: URL = FashionMNIST.defaultRoot) {
        let root = stateDirectory.appendingPathComponent("datasets", isDirectory: true)
        self.init(datasets: DatasetRegistry(fashionMNISTRoot: fashionMNISTRoot, directoryRoot: root), repository: repository)
    }

    public func plan(recipe data: Data, limits: JobLimits) throws -> JobPlan {
        if TranslationRecipe.isRecipe(data) { return try TranslationJob.plan(data, datasets: datasets, repository: repository, limits: limits) }
        if DetectionRecipe.isRecipe(data) { return try DetectionJob.plan(data, datasets: datasets, repository: repository, limits: limits) }
        if FaceRecipe.isRecipe(data) { return try FaceJob.plan(data, datasets: datasets, repository: repository, limits: limits) }
        let recipe = try Self.parse(data)
        // Fields, dataset, labels, architecture, shapes and limits, without
        // loading images (Fashion-MNIST's take seconds and 190 MB: too much per POST).
        try Self.recipeErrors {
            try TrainingPlan.check(recipe, datasets: datasets, repository: repository, limits: limits)
        }
        return JobPlan(model: recipe.name, epochs: recipe.epochs, promote: recipe.promote ?? false)
    }

    public func train(_ run: JobRun) throws -> TrainedModel {
        if TranslationRecipe.isRecipe(run.recipe) { return try TranslationJob.train(run, datasets: datasets) }
        if DetectionRecipe.isRecipe(run.recipe) { return try DetectionJob.train(run, datasets: datasets) }
        if FaceRecipe.isRecipe(run.recipe) { return try FaceJob.train(run, datasets: datasets) }
        let recipe = try Self.parse(run.recipe)
        let plan = try TrainingPlan(recipe: recipe, datasets: datasets, repository: repository, limits: run.limits)
        let trainer = plan.makeTrainer(blasThreads: run.blasThreads)
        if run.resumeFromEpoch > 0 {
            if FileManager.default.fileExists(atPath: run.checkpointURL.path) {
                try trainer.resume(from: TrainingCheckpoint.load(from: run.checkpointURL))
            }
            // Without its file the job starts over: its history is cleared too.
            try run.restored(history: trainer.history)
        }
        trainer.isCancelled = { run.shouldStop() }
        var finished: EpochMetrics?
        trainer.onEvent = { event in
            switch event {
            case .batch(let p): run.batchFinished(p)
            case .epoch(let m): finished = m
            case .earlyStop: break
            }
        }
        trainer.epochFinished = { checkpoint in
            // The checkpoint first (atomically), then the record that points to it.
            try checkpoint.save(to: run.checkpointURL)
            if let m = finished { try run.epochFinished(m) }
        }
        let summary = try trainer.fit()
        let report = plan.report(model: trainer.model, summary: summary)
        let model = trainer.model
        return TrainedModel(save: { dir in try plan.save(model, to: dir) }, metrics: try JSONFile.encode(report),
                            config: plan.modelConfig)
    }

    // MARK: - Helpers

    static func parse(_ data: Data) throws -> Recipe {
        try recipeErrors { try Recipe.parse(data) }
    }

    /// `TrainingError.invalidRecipe` and dataset errors become `JobError.invalidRecipe` (HTTP 400).
    static func recipeErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch TrainingError.invalidRecipe(let message) {
            throw JobError.invalidRecipe(message)
        } catch TrainingError.dataset(let message) {
            throw JobError.invalidRecipe("dataset.name: \(message)")
        }
    }
}
