import CoreMetrics
import DLNN
import DLTensor
import Foundation

/// Steps the searches of concurrent requests to one model version together:
/// one `IncrementalDecoder.step` advances the rows of every request being
/// decoded, laid end to end as `runSearches` lays the searches of one batch.
///
/// - A request arrives as sources and one `TokenSearch` per source (beam,
///   greedy, a teacher-forced reference). It waits in a queue of at most
///   `queueCapacity` requests (past that: `queueFull`, 429, as for other
///   models), and joins before the next step while the rows in flight stay
///   within `maxRows` (a request alone is always admitted). The first
///   request of an idle scheduler waits up to `maxQueueDelay` for company,
///   as a batch does.
/// - Joining encodes the newcomers in one `start` and concatenates their
///   state to the running one (`ConcatenableDecoderState`); rows that have
///   fed different numbers of tokens decode as they would alone.
/// - Before every step, requests past their deadline are answered `timeout`
///   and cancelled ones (the client went away) are dropped; their rows are
///   simply not kept. A finished request is answered at once; the state is
///   compacted when a request leaves.
///
/// The loop runs on a thread of its own while there is work (model steps are
/// long CPU work that must not block the async executor), and exits when idle.
public final class DecodingScheduler<Model: IncrementalDecoder>: @unchecked Sendable
where Model.State: ConcatenableDecoderState {
    public struct Limits: Sendable {
        /// The model's name, for errors.
        public var model: String
        /// Rows (hypotheses) in flight in one step, over all requests.
        public var maxRows: Int
        /// Requests waiting to join.
        public var queueCapacity: Int
        public var maxQueueDelay: Duration

        public init(model: String, maxRows: Int, queueCapacity: Int, maxQueueDelay: Duration = .zero) {
            (self.model, self.maxRows, self.queueCapacity, self.maxQueueDelay) = (model, max(1, maxRows), max(1, queueCapacity), maxQueueDelay)
        }

        /// From a served version's config: `max_batch_size` rows per step,
        /// `queue_capacity` waiting requests, `max_queue_delay_ms`.
        public init(_ config: ServingConfig, model: String) {
            self.init(model: model, maxRows: config.maxBatchSize, queueCapacity: config.maxQueueSize,
                      maxQueueDelay: config.maxQueueDelay)
        }
    }

    /// What the loop has done, for tests and status.
    public struct Statistics: Sendable, Equatable {
        /// Model steps taken.
        public var steps = 0
        /// Rows stepped, summed over steps.
        public var rows = 0
        /// Steps that advanced more than one request.
        public var sharedSteps = 0
        /// Most requests advanced by one step.
        public var mostRequestsInAStep = 0
    }

    let model: Model
    public let limits: Limits
    let lock = SchedulerLock()
    lazy var workAvailable = SchedulerLock.Condition(lock)

    // Guarded by `lock`.
    var waiting: [DecodingJob<Model>] = []
    var loopRunning = false
    var statistics = Statistics()
    /// Moving average of a request's decoding time, for Retry-After.
    var averageJobSeconds = 0.05

    /// `dlserve_compute_time_seconds{model}`: time spent in the model (encoder
    /// and decoding steps), as the inference scheduler records its batches.
    let computeTime: CoreMetrics.Timer

    public init(model: Model, limits: Limits, metricsFactory: (any MetricsFactory)? = nil) {
        self.model = model
        self.limits = limits
        self.computeTime = CoreMetrics.Timer(label: "dlserve_compute_time_seconds", dimensions: [("model", limits.model)],
                                             factory: metricsFactory ?? MetricsSystem.factory)
        _ = workAvailable
    }

    public var stats: Statistics { lock.withLock { statistics } }

    /// Decodes `sources`, `searches[i]` over `sources[i]`, in steps shared
    /// with concurrent requests; returns each search's result in order.
    /// Throws `ServingError`: queueFull, timeout (past `deadline`),
    /// cancelled (the calling task was cancelled), internal (a model failure).
    public func decode(sources: [Model.Source], searches: [any TokenSearch], deadline: ContinuousClock.Instant)
        async throws -> [DecodingResult]
    {
        precondition(sources.count == searches.count, "DecodingScheduler.decode: \(sources.count) sources, \(searches.count) searches")
        guard !sources.isEmpty else { return [] }
        let job = DecodingJob<Model>(sources: sources, searches: searches, deadline: deadline)
        return try await withRequestCancellation {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[DecodingResult], Error>) in
                let refusal: ServingError? = lock.withLock {
                    if job.cancelled { return .cancelled }
                    if waiting.count >= limits.queueCapacity {
                        let seconds = averageJobSeconds * Double(waiting.count + 1)
                        return .queueFull(model: limits.model, retryAfterSeconds: max(1, Int(seconds.rounded(.up))))
                    }
                    job.continuation = continuation
                    waiting.append(job)
                    if !loopRunning {
                        loopRunning = true
                        startLoop()
                    }
                    workAvailable.signal()
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            self.cancel(job)
        }
    }

    /// Answers a cancelled request at once; the loop drops its rows (or its
    /// place in the queue) before the next step.
    func cancel(_ job: DecodingJob<Model>) {
        let continuation = lock.withLock { () -> CheckedContinuation<[DecodingResult], Error>? in
            job.cancelled = true
            waiting.removeAll { $0 === job }
            defer { job.continuation = nil }
            return job.continuation
        }
        continuation?.resume(throwing: ServingError.cancelled)
    }

    private func startLoop() {
        let thread = Thread { [self] in
            var loop = DecodingLoop(scheduler: self)
            loop.run()
        }
        thread.name = "dlserve-decode-\(limits.model)"
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// One request in a `DecodingScheduler`: its sources and searches, and
/// where each search's rows sit in the running state.
final class DecodingJob<Model: IncrementalDecoder>: @unchecked Sendable {
    let sources: [Model.Source]
    var searches: [any TokenSearch]
    let deadline: ContinuousClock.Instant
    let submitted = ContinuousClock.now
    /// Per search, the index of its first row in the running state.
    var firstRow: [Int] = []
    // Guarded by the scheduler's lock.
    var cancelled = false
    var continuation: CheckedContinuation<[DecodingResult], Error>?

    init(sources: [Model.Source], searches: [any TokenSearch], deadline: ContinuousClock.Instant) {
        (self.sources, self.searches, self.deadline) = (sources, searches, deadline)
    }

    /// Rows the job can need in one step (a search never holds more rows
    /// than its first step's expansion allows: its beam width).
    var maxRows: Int {
        searches.reduce(0) { total, search in
            total + max(1, (search as? BeamSearch)?.options.beamWidth ?? search.parents.count)
        }
    }

    var isFinished: Bool { searches.allSatisfy(\.isFinished) }
}
