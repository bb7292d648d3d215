@testable import DLJobs
import DLNN
import Foundation
import XCTest

/// Runs one job on a real queue to its end: optionally stopped (graceful
/// shutdown) once its checkpoint reaches `interruptAfterEpoch` and resumed by
/// a new queue on the same store. Returns the finished job and the progress
/// events it streamed.
func runJobToEnd(_ recipe: Data, trainer: any JobTrainer, state: URL, models: URL, interruptAfterEpoch: Int?,
                 file: StaticString = #filePath, line: UInt = #line) async throws -> (job: Job, progress: [JobProgress]) {
    func makeQueue() throws -> JobQueue {
        JobQueue(store: try SQLiteJobStore(stateDirectory: state), trainer: trainer, repository: ModelRepository(root: models),
                 configuration: JobQueueConfiguration(stateDirectory: state, progressInterval: 0))
    }
    var queue = try makeQueue()
    try queue.start()
    let job = try queue.submit(recipe: recipe)
    if let e = interruptAfterEpoch {
        let deadline = Date() + 120
        while try queue.job(job.id).checkpointEpoch < e && Date() < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        queue.beginShutdown()
        await queue.waitUntilStopped()
        XCTAssertEqual(try queue.job(job.id).state, .queued, file: file, line: line)
        queue = try makeQueue()
        try queue.start()
    }
    var progress: [JobProgress] = []
    for try await record in try queue.follow(job.id, pollInterval: .milliseconds(100)) {
        if let p = record.event.progress { progress.append(p) }
    }
    queue.beginShutdown()
    await queue.waitUntilStopped()
    return (try queue.job(job.id), progress)
}
