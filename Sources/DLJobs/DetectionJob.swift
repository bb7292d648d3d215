import DLNN
import DLTrain
import Foundation

/// Detection recipes (`"task": "detection"`) in the job queue: the format of
/// `dlserve train recipes/detect-fashion.json`, trained by
/// `DetectionRecipe.train` with a `DetectionCheckpoint` after every epoch,
/// reported as batch progress (loss, images per second) and epoch metrics
/// (train loss, dev mAP@0.5). `data.dir` names a directory under the data
/// roots (`TaskRecipeJob`), `data.train` a file name in it.
enum DetectionJob {
    static func plan(_ data: Data, datasets: DatasetRegistry, repository: ModelRepository, limits: JobLimits) throws -> JobPlan {
        let recipe = try parse(data)
        try RecipeTrainer.recipeErrors {
            try TaskRecipeJob.checkTaskRecipe(name: recipe.name, task: .detection, epochs: recipe.epochs, repository: repository, limits: limits)
            let images = try DetectionSplit.count(try file(recipe, datasets: datasets))
            let used = min(images, recipe.data.limit ?? images)
            guard used > recipe.data.devImages else {
                throw TrainingError.invalidRecipe("data: \(used) images leave none for training after data.dev_images \(recipe.data.devImages)")
            }
            guard used <= limits.maxTrainImages else {
                throw TrainingError.invalidRecipe("data: \(used) images, more than the maximum of \(limits.maxTrainImages) (set data.limit)")
            }
        }
        return JobPlan(model: recipe.name, epochs: recipe.epochs, promote: recipe.promote ?? false)
    }

    static func train(_ run: JobRun, datasets: DatasetRegistry) throws -> TrainedModel {
        let recipe = try parse(run.recipe)
        let url = try RecipeTrainer.recipeErrors { try file(recipe, datasets: datasets) }
        var resolved = recipe
        resolved.data.dir = url.deletingLastPathComponent().path
        TaskRecipeJob.prepareCheckpoint(run)
        let epochs = recipe.epochs
        let trained = try resolved.train(base: URL(fileURLWithPath: "/"), checkpoint: run.checkpointURL, configure: { trainer in
            trainer.onProgress = TaskRecipeJob.progressReporter(run, epochs: epochs)
            trainer.epochFinished = try TaskRecipeJob.epochRecorder(run, history: trainer.history, metrics: metrics)
        }, isCancelled: { run.shouldStop() })
        return TrainedModel(save: { dir in try recipe.save(trained, to: dir) }, metrics: try recipe.metrics(trained),
                            config: recipe.config(classes: trained.classes))
    }

    static func parse(_ data: Data) throws -> DetectionRecipe {
        try RecipeTrainer.recipeErrors { try DetectionRecipe.parse(data) }
    }

    static func file(_ recipe: DetectionRecipe, datasets: DatasetRegistry) throws -> URL {
        try TaskRecipeJob.resolve(recipe.data.dir, files: [("data.train", recipe.data.train)], datasets: datasets)
            .appendingPathComponent(recipe.data.train)
    }

    /// A detection epoch as the queue stores and streams it: the training
    /// loss, and the dev mAP@0.5 in `dev_map50`.
    static func metrics(_ e: DetectionTrainer.Epoch) -> EpochMetrics {
        var m = EpochMetrics(epoch: e.epoch, learningRate: e.learningRate ?? 0, trainLoss: Float(e.loss), trainAccuracy: 0,
                             seconds: e.seconds, imagesPerSecond: e.imagesPerSecond)
        m.devMAP50 = e.devMAP50
        return m
    }
}
