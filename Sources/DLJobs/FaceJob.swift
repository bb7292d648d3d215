import DLNN
import DLTrain
import Foundation

/// Face-embedding recipes (`"task": "embedding"`) in the job queue: the
/// format of `dlserve train recipes/face-embed.json`, trained by
/// `FaceRecipe.train` with a `FaceCheckpoint` after every epoch, reported as
/// batch progress (loss, images per second) and epoch metrics (train loss,
/// the held-out people's pair accuracy as `dev_accuracy`). `data.dir` names a
/// directory under the data roots (`TaskRecipeJob`), `data.train` the folder
/// of people in it.
enum FaceJob {
    static func plan(_ data: Data, datasets: DatasetRegistry, repository: ModelRepository, limits: JobLimits) throws -> JobPlan {
        let recipe = try parse(data)
        try RecipeTrainer.recipeErrors {
            try TaskRecipeJob.checkTaskRecipe(name: recipe.name, task: .embedding, epochs: recipe.epochs, repository: repository, limits: limits)
            let photos = try count(try folder(recipe, datasets: datasets))
            guard photos <= limits.maxTrainImages else {
                throw TrainingError.invalidRecipe("data: \(photos) photos, more than the maximum of \(limits.maxTrainImages)")
            }
        }
        return JobPlan(model: recipe.name, epochs: recipe.epochs, promote: recipe.promote ?? false)
    }

    static func train(_ run: JobRun, datasets: DatasetRegistry) throws -> TrainedModel {
        let recipe = try parse(run.recipe)
        let url = try RecipeTrainer.recipeErrors { try folder(recipe, datasets: datasets) }
        var resolved = recipe
        resolved.data.dir = url.deletingLastPathComponent().path
        TaskRecipeJob.prepareCheckpoint(run)
        let epochs = recipe.epochs
        let trained = try resolved.train(base: URL(fileURLWithPath: "/"), checkpoint: run.checkpointURL, configure: { trainer in
            trainer.onProgress = TaskRecipeJob.progressReporter(run, epochs: epochs)
            trainer.epochFinished = try TaskRecipeJob.epochRecorder(run, history: trainer.history, metrics: metrics)
        }, isCancelled: { run.shouldStop() })
        return TrainedModel(save: { dir in try recipe.save(trained, to: dir) }, metrics: try recipe.metrics(trained), config: recipe.config())
    }

    static func parse(_ data: Data) throws -> FaceRecipe {
        try RecipeTrainer.recipeErrors { try FaceRecipe.parse(data) }
    }

    static func folder(_ recipe: FaceRecipe, datasets: DatasetRegistry) throws -> URL {
        try TaskRecipeJob.resolve(recipe.data.dir, files: [("data.train", recipe.data.train)], datasets: datasets)
            .appendingPathComponent(recipe.data.train, isDirectory: true)
    }

    /// Photos (JPEG/PNG files) in the person folders of `dir`.
    static func count(_ dir: URL) throws -> Int {
        let fm = FileManager.default
        let people = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
        let photos = people.reduce(0) { n, p in
            n + ((try? fm.contentsOfDirectory(atPath: dir.appendingPathComponent(p).path)) ?? [])
                .filter { FaceSet.extensions.contains(($0 as NSString).pathExtension.lowercased()) }.count
        }
        guard photos > 0 else { throw TrainingError.invalidRecipe("data.train: no person folder with photos in \(dir.path)") }
        return photos
    }

    /// An embedding epoch as the queue stores and streams it.
    static func metrics(_ e: FaceTrainer.Epoch) -> EpochMetrics {
        var m = EpochMetrics(epoch: e.epoch, learningRate: e.learningRate ?? 0, trainLoss: Float(e.loss), trainAccuracy: 0,
                             seconds: e.seconds, imagesPerSecond: e.imagesPerSecond)
        m.devAccuracy = e.devAccuracy.map(Float.init)
        return m
    }
}
