import DLKernels
import ArgumentParser
import DLNN
import DLTrain
import Foundation

/// `dlserve train RECIPE.json`: trains and publishes a new model version.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model from a JSON recipe and publish it as a new version.",
        discussion: """
            Writes models/NAME/VERSION/ (model.json, weights.safetensors, metrics.json, recipe.json) \
            atomically, and models/NAME/config.json for a new model. Progress goes to standard error; \
            a JSON summary (model, version, test accuracy, training time) to standard output.
            """)

    @Argument(help: ArgumentHelp("The training recipe (JSON).", valueName: "recipe.json"))
    var recipe: String

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var compute: ComputeOptions

    @Option(name: .long, help: ArgumentHelp(
        "Save a training checkpoint to this file after every epoch, and resume from it when it exists.", valueName: "file"))
    var checkpoint: String?

    @Flag(name: .long, help: "Check the recipe and the data, print the plan, and stop.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard FileManager.default.fileExists(atPath: recipe) else { throw ValidationError("recipe \(recipe) does not exist") }
    }

    func run() throws {
        Kernels.keepFreedMemoryForReuse()
        let url = URL(fileURLWithPath: self.recipe)
        if let data = FileManager.default.contents(atPath: url.path) {
            if SkipGramRecipe.isRecipe(data) { return try trainWordVectors(data) }
            if TranslationRecipe.isRecipe(data) { return try trainTranslation(data) }
            if DetectionRecipe.isRecipe(data) { return try trainDetection(data) }
            if FaceRecipe.isRecipe(data) { return try trainFaces(data) }
        }
        let recipe = try Recipe.load(url)
        let repo = repository.repository
        let plan = try TrainingPlan(recipe: recipe, datasets: compute.registry, repository: repo)
        if !quiet {
            printError("""
                \(recipe.name): \(plan.model.parameterCount) parameters; \(plan.train.count) training, \
                \(plan.dev?.count ?? 0) dev, \(plan.test?.count ?? 0) test images; \(recipe.epochs) epochs of \
                \(plan.batchesPerEpoch) batches; \(compute.threadCount) threads
                """)
        }
        if dryRun {
            print(try jsonString(DryRun(name: recipe.name, parameters: plan.model.parameterCount, train: plan.train.count,
                                        dev: plan.dev?.count ?? 0, test: plan.test?.count ?? 0)))
            return
        }
        let trainer = plan.makeTrainer(blasThreads: compute.threadCount)
        if let path = checkpoint {
            let url = URL(fileURLWithPath: path)
            if FileManager.default.fileExists(atPath: url.path) {
                try trainer.resume(from: TrainingCheckpoint.load(from: url))
                if !quiet { printError("resuming after epoch \(trainer.epochsCompleted) from \(path)") }
            }
            trainer.epochFinished = { try $0.save(to: url) }
        }
        if !quiet {
            let bar = ProgressBar()
            trainer.onEvent = bar.handle
        }
        let summary = try trainer.fit()
        let report = plan.report(model: trainer.model, summary: summary)
        let version = try plan.publish(trainer.model, report: report, to: repo)
        if !quiet, let acc = report.testAccuracy {
            printError(String(format: "test accuracy %.2f%% on %d images; trained in %@", acc * 100, report.testImages,
                              ProgressBar.duration(report.trainingSeconds)))
        }
        print(try jsonString(Result(
            model: recipe.name, version: version,
            directory: try repo.directory(of: recipe.name, version: version).path,
            testAccuracy: report.testAccuracy, testLoss: report.testLoss, epochs: report.epochs, bestEpoch: report.bestEpoch,
            trainingSeconds: report.trainingSeconds, imagesPerSecond: report.imagesPerSecond)))
    }

    struct Result: Encodable {
        var model: String
        var version: Int
        var directory: String
        var testAccuracy: Float?
        var testLoss: Float?
        var epochs: Int
        var bestEpoch: Int
        var trainingSeconds: Double
        var imagesPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case model, version, directory, epochs
            case testAccuracy = "test_accuracy", testLoss = "test_loss", bestEpoch = "best_epoch"
            case trainingSeconds = "training_seconds", imagesPerSecond = "images_per_second"
        }
    }

    struct DryRun: Encodable {
        var name: String
        var parameters: Int
        var train: Int
        var dev: Int
        var test: Int
    }
}

extension TrainingPlan {
    var batchesPerEpoch: Int { (train.count + config.batchSize - 1) / config.batchSize }

}

extension TrainCommand {
    /// A word-vector recipe (`"task": "word_vectors"`): skip-gram with negative
    /// sampling over its corpus (a relative corpus path is read from the
    /// current directory), published in the GloVe layout.
    func trainWordVectors(_ data: Data) throws {
        let recipe = try SkipGramRecipe.parse(data)
        Kernels.setBLASThreads(compute.threadCount)
        if dryRun {
            let corpus = try recipe.loadCorpus(base: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            print(try jsonString(["name": recipe.name, "words": String(corpus.vocabulary.count), "tokens": String(corpus.tokenCount)]))
            return
        }
        let quiet = self.quiet
        let outcome = try recipe.run(base: URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                                     repository: repository.repository) { epoch in
            if !quiet { printError("epoch \(epoch.epoch): loss \(String(format: "%.4f", epoch.loss)) over \(epoch.pairs) pairs, \(String(format: "%.1f", epoch.seconds)) s") }
        }
        struct Summary: Encodable { var model: String; var version: Int; var words: Int; var tokens: Int; var finalLoss: Double?
            enum CodingKeys: String, CodingKey { case model, version, words, tokens, finalLoss = "final_loss" } }
        print(try jsonString(Summary(model: recipe.name, version: outcome.version, words: outcome.words, tokens: outcome.tokens,
                                     finalLoss: outcome.epochs.last?.loss)))
    }
}
