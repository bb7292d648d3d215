import DLNN
import DLTrain
import Foundation

/// Translation recipes (`"task": "translation"`) in the job queue: the
/// format of `dlserve train recipes/translate-en-es.json`, trained by
/// `TranslationRecipe.train` with a `TranslationCheckpoint` after every epoch
/// (the subword files beside it), reported as batch progress (loss, token
/// accuracy, pairs and tokens per second) and epoch metrics (train loss and
/// accuracy, dev loss and accuracy, dev BLEU, tokens per second).
///
/// `data.dir` names a directory under the daemon's data root (the
/// registry's text root, `$DLSERVE_DATA` or ./data, or STATE/datasets); a
/// leading "data/" is dropped so the recipes in recipes/ post as they are.
/// Every path component is a plain name (no "..", no leading "."), so a job
/// never reads outside those roots; `data.train` and `data.dev` are file names.
enum TranslationJob {
    static func plan(_ data: Data, datasets: DatasetRegistry, repository: ModelRepository, limits: JobLimits) throws -> JobPlan {
        let recipe = try parse(data)
        try RecipeTrainer.recipeErrors {
            try TaskRecipeJob.checkTaskRecipe(name: recipe.name, task: .translation, epochs: recipe.epochs, repository: repository, limits: limits)
            let urls = try files(recipe, datasets: datasets)
            let train = try TranslationPairs.read(urls.train, limit: recipe.data.limit)
            _ = try TranslationPairs.read(urls.dev, limit: recipe.data.devLimit)
            guard train.count <= limits.maxTrainImages else {
                throw TrainingError.invalidRecipe("data: \(train.count) training pairs, more than the maximum of \(limits.maxTrainImages) (set data.limit)")
            }
        }
        return JobPlan(model: recipe.name, epochs: recipe.epochs, promote: recipe.promote ?? false)
    }

    static func train(_ run: JobRun, datasets: DatasetRegistry) throws -> TrainedModel {
        let recipe = try parse(run.recipe)
        let urls = try RecipeTrainer.recipeErrors { try files(recipe, datasets: datasets) }
        var resolved = recipe
        resolved.data.dir = urls.train.deletingLastPathComponent().path
        TaskRecipeJob.prepareCheckpoint(run)
        let epochs = recipe.epochs
        let trained = try resolved.train(base: URL(fileURLWithPath: "/"), checkpoint: run.checkpointURL, configure: { trainer in
            trainer.onProgress = { p in
                run.batchFinished(BatchProgress(epoch: p.epoch + 1, epochs: epochs, batch: p.batch + 1, batches: p.batches,
                                                loss: p.loss, accuracy: p.accuracy, imagesPerSecond: p.pairsPerSecond,
                                                learningRate: p.learningRate, tokensPerSecond: p.tokensPerSecond))
            }
            trainer.epochFinished = try TaskRecipeJob.epochRecorder(run, history: trainer.history, metrics: metrics)
        }, isCancelled: { run.shouldStop() })
        return TrainedModel(save: { dir in try recipe.save(trained, to: dir) }, metrics: trained.metrics, config: trained.config)
    }

    /// A translation epoch as the queue stores and streams it.
    static func metrics(_ e: TranslationEpoch) -> EpochMetrics {
        EpochMetrics(epoch: e.epoch, learningRate: e.learningRate ?? 0, trainLoss: e.trainLoss, trainAccuracy: e.trainAccuracy ?? 0,
                            devLoss: e.devLoss, devAccuracy: e.devAccuracy, seconds: e.seconds,
                            imagesPerSecond: e.pairsPerSecond ?? 0, devBLEU: e.devBLEU, tokensPerSecond: e.tokensPerSecond)
    }

    static func parse(_ data: Data) throws -> TranslationRecipe {
        try RecipeTrainer.recipeErrors { try TranslationRecipe.parse(data) }
    }

    /// The recipe's training and dev files under the data roots.
    static func files(_ recipe: TranslationRecipe, datasets: DatasetRegistry) throws -> (train: URL, dev: URL) {
        let dir = try TaskRecipeJob.resolve(recipe.data.dir, files: [("data.train", recipe.data.train), ("data.dev", recipe.data.dev)],
                                               datasets: datasets)
        return (dir.appendingPathComponent(recipe.data.train), dir.appendingPathComponent(recipe.data.dev))
    }
}
