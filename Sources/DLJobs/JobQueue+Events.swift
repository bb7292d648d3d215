import Foundation

extension JobQueue {
    /// The job's events after sequence number `after` (0: from the start),
    /// then every new one as it happens; the stream ends after the job's final
    /// event (succeeded, failed or cancelled). Cancelling the consuming task
    /// ends it too. Throws `JobError.notFound` at once for an unknown job.
    ///
    /// Events come from the store, so a client that reconnects with its last
    /// event id (SSE Last-Event-ID), even to a restarted daemon, misses nothing.
    /// The stream also ends (without a final event) when the queue stops.
    public func follow(_ id: JobID, after: Int64 = 0, pollInterval: Duration = .seconds(2)) throws
        -> AsyncThrowingStream<JobEventRecord, Error>
    {
        _ = try job(id)
        let store = self.store, hub = self.hub
        let stopping = { [weak self] in self?.isStopping ?? true }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var last = max(0, after)
                do {
                    while !Task.isCancelled {
                        let seen = hub.generation(id)
                        let batch = try store.events(id, after: last, limit: 256)
                        for record in batch {
                            continuation.yield(record)
                            last = record.seq
                        }
                        if let final = batch.last, final.event.state.isTerminal, final.event.kind == .state {
                            break  // a finished job's last event
                        }
                        if !batch.isEmpty { continue }
                        if try store.job(id)?.state.isTerminal ?? true {
                            // Finished (it may have finished since the read above):
                            // its log is complete now, so one more read gets the rest.
                            for record in try store.events(id, after: last, limit: Int.max) {
                                continuation.yield(record)
                            }
                            break
                        }
                        if stopping() { break }
                        // The poll covers jobs changed by another process sharing the store.
                        await hub.wait(id, seen: seen, timeout: pollInterval)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
