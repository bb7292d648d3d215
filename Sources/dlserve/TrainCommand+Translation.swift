import DLKernels
import DLTrain
import Foundation

extension TrainCommand {
    /// A translation recipe (`"task": "translation"`): subwords learned from
    /// the training split, teacher-forced training with a checkpoint after
    /// every epoch (`--checkpoint`, resumed when it exists; the subword files
    /// sit beside it in FILE.subwords/), published with its bpe files.
    func trainTranslation(_ data: Data) throws {
        let recipe = try TranslationRecipe.parse(data)
        Kernels.setBLASThreads(compute.threadCount)
        let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if dryRun {
            let urls = recipe.dataURLs(base: base)
            let train = try TranslationPairs.read(urls.train, limit: recipe.data.limit)
            let dev = try TranslationPairs.read(urls.dev, limit: recipe.data.devLimit)
            print(try jsonString(["name": recipe.name, "train_pairs": String(train.count), "dev_pairs": String(dev.count)]))
            return
        }
        let quiet = self.quiet
        let outcome = try recipe.run(base: base, repository: repository.repository,
                                     checkpoint: checkpoint.map { URL(fileURLWithPath: $0) }) { trainer in
            guard !quiet else { return }
            printError("\(recipe.name): \(trainer.model.parameterCount) parameters; \(trainer.train.count) training pairs in "
                       + "\(trainer.batches.count) batches, \(trainer.dev.count) dev pairs; \(compute.threadCount) threads"
                       + (trainer.epochsCompleted > 0 ? "; resuming after epoch \(trainer.epochsCompleted)" : ""))
            trainer.onProgress = { p in
                guard p.batch % 50 == 0 || p.batch == p.batches - 1 else { return }
                printError(String(format: "epoch %d batch %d/%d: loss %.3f, lr %.2e, %.0f tokens/s",
                                  p.epoch + 1, p.batch + 1, p.batches, p.loss, p.learningRate, p.tokensPerSecond))
            }
            trainer.onEpoch = { e in
                printError(String(format: "epoch %d: train loss %.3f, dev loss %.3f, dev accuracy %.3f%@, %.0f s, %.0f tokens/s",
                                  e.epoch, e.trainLoss, e.devLoss, e.devAccuracy,
                                  e.devBLEU.map { String(format: ", dev BLEU %.2f", $0) } ?? "", e.seconds, e.tokensPerSecond))
            }
        }
        struct Summary: Encodable {
            var model: String, version: Int, parameters: Int, trainPairs: Int, devLoss: Float?, devAccuracy: Float?, devBLEU: Double?
            enum CodingKeys: String, CodingKey {
                case model, version, parameters
                case trainPairs = "train_pairs", devLoss = "dev_loss", devAccuracy = "dev_accuracy", devBLEU = "dev_bleu"
            }
        }
        let last = outcome.history.last
        print(try jsonString(Summary(model: recipe.name, version: outcome.version, parameters: outcome.parameters,
                                     trainPairs: outcome.trainPairs, devLoss: last?.devLoss, devAccuracy: last?.devAccuracy,
                                     devBLEU: last?.devBLEU)))
    }
}
