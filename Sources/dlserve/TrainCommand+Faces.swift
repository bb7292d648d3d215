import DLKernels
import DLTrain
import Foundation

extension TrainCommand {
    /// A face-embedding recipe (`"task": "embedding"`): P x K batches from a
    /// folder per person, mined triplets (or the siamese pair classifier),
    /// published with verification.json (tau from the held-out people's pairs).
    func trainFaces(_ data: Data) throws {
        let recipe = try FaceRecipe.parse(data)
        Kernels.setBLASThreads(compute.threadCount)
        let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if dryRun {
            let dir = recipe.data.dir.map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : base.appendingPathComponent($0) } ?? base
            let set = try FaceSet.load(dir.appendingPathComponent(recipe.data.train), preprocessing: try recipe.input.imagePreprocessing())
            print(try jsonString(["name": recipe.name, "identities": String(set.names.count), "photos": String(set.count)]))
            return
        }
        let quiet = self.quiet
        let (version, trained) = try recipe.run(base: base, repository: repository.repository,
                                                checkpoint: checkpoint.map { URL(fileURLWithPath: $0) }) { trainer in
            guard !quiet else { return }
            printError("\(recipe.name): \(trainer.model.parameterCount) parameters; \(trainer.train.names.count) people, "
                       + "\(trainer.train.count) photos for training, \(trainer.dev?.set.names.count ?? 0) held out; "
                       + "\(compute.threadCount) threads"
                       + (trainer.epochsCompleted > 0 ? "; resuming after epoch \(trainer.epochsCompleted)" : ""))
            trainer.onEpoch = { e in
                printError(String(format: "epoch %d: loss %.4f, active %.3f, dev accuracy %.4f (tau %.3f, AUC %.4f), lr %.2e, %.0f s, %.0f images/s",
                                  e.epoch, e.loss, e.active, e.devAccuracy ?? .nan, e.devTau ?? .nan, e.devAUC ?? .nan,
                                  e.learningRate ?? .nan, e.seconds, e.imagesPerSecond))
            }
        }
        struct Summary: Encodable {
            var model: String, version: Int, parameters: Int, trainIdentities: Int, tau: Double, devAccuracy: Double?
            enum CodingKeys: String, CodingKey {
                case model, version, parameters, tau
                case trainIdentities = "train_identities", devAccuracy = "dev_accuracy"
            }
        }
        print(try jsonString(Summary(model: recipe.name, version: version, parameters: trained.model.parameterCount,
                                     trainIdentities: trained.trainIdentities, tau: trained.verification.tau,
                                     devAccuracy: trained.history.last?.devAccuracy)))
    }
}
