import DLNN
import Foundation

extension ModelRepository {
    /// Before a task recipe publishes: writes `config` as config.json for a new
    /// model, or checks that an existing model has the same task. A clash is
    /// `TrainingError.invalidRecipe` on the recipe's name.
    func prepareConfig(_ config: ModelConfig, taskName: String) throws {
        do {
            let file = try directory(of: config.name).appendingPathComponent(Self.configFileName)
            if FileManager.default.fileExists(atPath: file.path) {
                guard try self.config(of: config.name).task == config.task else {
                    throw TrainingError.invalidRecipe("name: model '\(config.name)' exists and is not a \(taskName) model")
                }
            } else {
                try writeConfig(config)
            }
        } catch let e as RepositoryError {
            throw TrainingError.invalidRecipe("name: \(e)")
        }
    }
}

extension ModelRepository {
    /// Publishes a task recipe's trained model as the model's next version:
    /// config.json checked (or written, `prepareConfig`), then the version's
    /// files written by `save` and metrics.json, atomically as one version.
    func publishTrained(name: String, config: ModelConfig, taskName: String, metrics: Data,
                        save: (URL) throws -> Void) throws -> Int {
        try prepareConfig(config, taskName: taskName)
        return try publish(name: name) { dir in
            try save(dir)
            try AtomicFile.write(metrics, to: dir.appendingPathComponent(Self.metricsFileName))
        }
    }
}
