import DLJobs
import DLNN
import DLServe
import Foundation
import Logging

/// The training job queue of `dlserve serve`: jobs in STATE/jobs/jobs.sqlite,
/// checkpoints in STATE/jobs/ID/, datasets from Fashion-MNIST and
/// STATE/datasets/, new versions into the served repository; a job with
/// "promote": true asks the backend to load the model (hot reload).
func makeJobQueue(settings: ServeSettings, backend: any ServingBackend, logger: Logger) throws -> JobQueue {
    let state = URL(fileURLWithPath: settings.state, isDirectory: true)
    let repository = ModelRepository(root: URL(fileURLWithPath: settings.models, isDirectory: true))
    let limits = JobLimits(maxEpochs: settings.jobMaxEpochs, maxTrainImages: settings.jobMaxTrainImages)
    let configuration = JobQueueConfiguration(
        stateDirectory: state, capacity: settings.jobCapacity, concurrency: settings.jobWorkers, limits: limits)
    let store: SQLiteJobStore
    do {
        store = try SQLiteJobStore(stateDirectory: state)
    } catch {
        throw SettingsError("cannot open the job store under \(state.path): \(error)")
    }
    return JobQueue(
        store: store, trainer: RecipeTrainer(stateDirectory: state, repository: repository), repository: repository,
        configuration: configuration,
        promoter: { model, version in
            let status = try await backend.load(model)
            logger.notice("promoted a trained version", metadata: ["model": "\(model)", "version": "\(version)", "serving": "\(status)"])
        },
        logger: logger)
}
