import DLNN
import DLTrain
import Foundation

/// What the jobs of task recipes (translation, detection) share: their
/// name and epoch checks, and where `data.dir` points: a directory under the
/// daemon's data roots (the registry's directory root, then its text root).
/// A leading "data/" is dropped so the recipes in recipes/ post as they are;
/// every path component and file name must be a plain name (no "..", no
/// leading ".", no "/"), so a job never reads outside those roots.
enum TaskRecipeJob {
    static func plain(_ component: Substring) -> Bool {
        !component.isEmpty && !component.hasPrefix(".")
            && component.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    /// The first root's directory that holds the first of `files` ((recipe field, file name) pairs).
    static func resolve(_ dir: String?, files: [(field: String, name: String)], datasets: DatasetRegistry) throws -> URL {
        var parts = (dir ?? "").split(separator: "/", omittingEmptySubsequences: false)
        if parts.first == "data" { parts.removeFirst() }
        guard !parts.isEmpty, parts.allSatisfy(plain) else {
            throw TrainingError.invalidRecipe("data.dir: '\(dir ?? "")' must name a directory under the data root with plain names (no '..', no leading '.', no absolute path)")
        }
        for (field, file) in files where !plain(Substring(file)) {
            throw TrainingError.invalidRecipe("\(field): '\(file)' must be a file name in data.dir")
        }
        let relative = parts.joined(separator: "/")
        for root in [datasets.directoryRoot, datasets.textRoot].compactMap({ $0 }) {
            let candidate = root.appendingPathComponent(relative, isDirectory: true)
            if let first = files.first, FileManager.default.fileExists(atPath: candidate.appendingPathComponent(first.name).path) {
                return candidate
            }
        }
        throw TrainingError.invalidRecipe("data.dir: no \(relative)/\(files.first?.name ?? "") under the data root \(datasets.textRoot.path)")
    }

    /// A task recipe's name and epochs: an existing model of that name must
    /// be of the same task, and the epochs within the daemon's limit.
    static func checkTaskRecipe(name: String, task: ModelConfig.Task, epochs: Int, repository: ModelRepository, limits: JobLimits) throws {
        let config = try repository.directory(of: name).appendingPathComponent(ModelRepository.configFileName)
        if FileManager.default.fileExists(atPath: config.path), try repository.config(of: name).task != task {
            throw TrainingError.invalidRecipe("name: model '\(name)' exists and is not a \(task.rawValue) model")
        }
        guard epochs <= limits.maxEpochs else {
            throw TrainingError.invalidRecipe("epochs: \(epochs) is more than the maximum of \(limits.maxEpochs)")
        }
    }
}

/// A task trainer's per-epoch checkpoint as the queue keeps it.
protocol EpochCheckpoint {
    associatedtype Epoch
    var history: [Epoch] { get }
    func save(to url: URL) throws
}

extension DetectionCheckpoint: EpochCheckpoint {}
extension TranslationCheckpoint: EpochCheckpoint {}
extension FaceCheckpoint: EpochCheckpoint {}

extension TaskRecipeJob {
    /// Before a task recipe trains in a job: a checkpoint left by an attempt
    /// that never finished an epoch's record is removed (the run starts over).
    static func prepareCheckpoint(_ run: JobRun) {
        if run.resumeFromEpoch == 0 { try? FileManager.default.removeItem(at: run.checkpointURL) }
    }

    /// Connects a task trainer to its job: on resume, the run's epoch records
    /// are restored from the trainer's history; the returned hook saves each
    /// epoch's checkpoint (atomically) before the record that points to it.
    static func epochRecorder<C: EpochCheckpoint>(_ run: JobRun, history: [C.Epoch],
                                                   metrics: @escaping (C.Epoch) -> EpochMetrics) throws -> (C) throws -> Void {
        if run.resumeFromEpoch > 0 { try run.restored(history: history.map(metrics)) }
        return { checkpoint in
            try checkpoint.save(to: run.checkpointURL)
            if let m = checkpoint.history.last.map(metrics) { try run.epochFinished(m) }
        }
    }
}

extension TaskRecipeJob {
    /// Reports an image trainer's batches (detection, faces) as the job's progress.
    static func progressReporter(_ run: JobRun, epochs: Int) -> (DetectionTrainer.Progress) -> Void {
        { p in
            run.batchFinished(BatchProgress(epoch: p.epoch, epochs: epochs, batch: p.batch, batches: p.batches, loss: Float(p.loss),
                                            accuracy: 0, imagesPerSecond: p.imagesPerSecond, learningRate: p.learningRate))
        }
    }
}
