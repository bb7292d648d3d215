import CoreMetrics
import DLTensor
import Dispatch
import DequeModule
import Foundation

/// One request between `infer` and its answer. Mutable fields are guarded by
/// the scheduler's lock; the continuation is resumed exactly once, by
/// whichever of worker, deadline keeper or cancellation gets there first.
final class PendingRequest: @unchecked Sendable {
    enum Phase { case new, queued, running, done }

    /// [rows, ...inputShape].
    let input: Tensor
    let rows: Int
    /// Requests batch together only with the same key: 0 for fixed shapes,
    /// the length bucket for sequences (padded to the longest in the batch).
    let batchKey: Int
    let submitted: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant
    let requestID: String?
    /// Holding the version keeps it alive until the request is answered,
    /// even if it is retired from the routing table meanwhile.
    let instance: ServedVersion

    var phase = Phase.new
    var cancelled = false
    var continuation: CheckedContinuation<InferenceResult, Error>?

    init(input: Tensor, instance: ServedVersion, deadline: ContinuousClock.Instant, requestID: String?,
         submitted: ContinuousClock.Instant = .now) {
        self.input = input
        self.rows = input.shape[0]
        self.batchKey = Self.bucket(input)
        self.instance = instance
        self.deadline = deadline
        self.requestID = requestID
        self.submitted = submitted
    }

    var queue: BatchQueue { instance.queue }

    /// Length buckets for token sequences [N, T]: T up to 8, 16, 32, 64, ...
    /// so a batch pads each sequence to less than twice its length.
    static func bucket(_ x: Tensor) -> Int {
        guard x.rank == 2 else { return 0 }
        var b = 8
        while b < x.shape[1] { b *= 2 }
        return b
    }
}

/// Requests queued for one model, shared by all its versions: the bound on
/// queued requests is per model.
final class QueueGroup: @unchecked Sendable {
    let model: String
    /// Queued (not yet running) requests, all versions. Guarded by the scheduler's lock.
    var pending = 0 {
        didSet { depth?.record(pending) }
    }
    /// `dlserve_queue_depth{model}`.
    let depth: Gauge?

    init(model: String, depth: Gauge? = nil) {
        self.model = model
        self.depth = depth
    }
}

/// The queue of one served version (model + version + instance). Requests
/// here are batched together. Guarded by the scheduler's lock.
final class BatchQueue: @unchecked Sendable {
    let model: any InferenceModel
    let name: String
    let version: Int
    let maxBatchSize: Int
    let maxQueueDelay: Duration
    let capacity: Int
    let group: QueueGroup

    var items: Deque<PendingRequest> = []
    /// Sum of `rows` over `items`.
    var rows = 0
    /// In the scheduler's list of queues with work.
    var isActive = false
    /// Moving average of a batch's compute time, for Retry-After estimates.
    var averageBatchSeconds = 0.005
    /// Moving average of the time between requests (for running on the caller's thread).
    private(set) var arrivalGapSeconds = 0.0
    private var lastArrival: ContinuousClock.Instant?

    /// Folds one batch's compute time into the moving average.
    func noteBatch(seconds: Double) {
        averageBatchSeconds = 0.8 * averageBatchSeconds + 0.2 * seconds
    }

    func noteArrival(at now: ContinuousClock.Instant) {
        if let last = lastArrival { arrivalGapSeconds = 0.8 * arrivalGapSeconds + 0.2 * (now - last).seconds }
        lastArrival = now
    }

    init(model: any InferenceModel, name: String, version: Int, config: ServingConfig, group: QueueGroup) {
        self.model = model
        self.name = name
        self.version = version
        self.maxBatchSize = config.maxBatchSize
        self.maxQueueDelay = config.maxQueueDelay
        self.capacity = config.maxQueueSize
        self.group = group
    }

    /// When the head request's batch may leave without being full.
    var readyAt: ContinuousClock.Instant? { items.first.map { $0.submitted + maxQueueDelay } }

    /// Full batch waiting, or the head has waited long enough.
    func isReady(now: ContinuousClock.Instant) -> Bool {
        guard let at = readyAt else { return false }
        return rows >= maxBatchSize || now >= at
    }

    /// Takes the head and as many following requests as fit in `limit` rows
    /// (at most `maxBatchSize`; always at least one request, so an oversized
    /// request runs alone).
    func takeBatch(limit: Int? = nil) -> [PendingRequest] {
        let cap = min(maxBatchSize, limit ?? maxBatchSize)
        var batch: [PendingRequest] = []
        var taken = 0
        let key = items.first?.batchKey
        var skipped: [PendingRequest] = []
        while let head = items.first, batch.isEmpty || taken + head.rows <= cap {
            items.removeFirst()
            // Another length bucket waits for a batch of its own, in order.
            guard head.batchKey == key else { skipped.append(head); continue }
            taken += head.rows
            batch.append(head)
        }
        for r in skipped.reversed() { items.prepend(r) }
        rows -= taken
        group.pending -= batch.count
        return batch
    }

    func remove(_ request: PendingRequest) -> Bool {
        guard let i = items.firstIndex(where: { $0 === request }) else { return false }
        items.remove(at: i)
        rows -= request.rows
        group.pending -= 1
        return true
    }
}

/// A loaded version in the routing table: the model, its settings, its
/// queue. Requests hold it while they run; when the last holder lets go
/// after it was retired, `deinit` reports the release, on another thread and
/// only after the model and queue are freed (the report trims the heap).
final class ServedVersion: @unchecked Sendable {
    let name: String
    let version: Int
    let token: Int
    let loaded: ServableVersion
    let queue: BatchQueue
    let loadedAt: Date
    let fingerprint: String
    /// Task objects kept with this version (`ModelRunner.versionState`).
    let state = VersionTaskState()
    private let onRelease: @Sendable (String, Int, Int) -> Void

    init(name: String, version: Int, token: Int, loaded: ServableVersion, group: QueueGroup, fingerprint: String,
         onRelease: @escaping @Sendable (String, Int, Int) -> Void) {
        self.name = name
        self.version = version
        self.token = token
        self.loaded = loaded
        self.queue = BatchQueue(model: loaded.model, name: name, version: version, config: loaded.config, group: group)
        self.loadedAt = Date()
        self.fingerprint = fingerprint
        self.onRelease = onRelease
    }

    var config: ServingConfig { loaded.config }
    var model: any InferenceModel { loaded.model }

    deinit {
        // Stored properties are released after `deinit` returns, possibly
        // after a report sent from here has run. The box holds the last
        // references and drops them before the report.
        let held = Held(loaded, queue)
        let report = onRelease, name = name, version = version, token = token
        DispatchQueue.global().async {
            held.drop()
            report(name, version, token)
        }
    }

    private final class Held: @unchecked Sendable {
        private var loaded: ServableVersion?
        private var queue: BatchQueue?
        init(_ loaded: ServableVersion, _ queue: BatchQueue) { (self.loaded, self.queue) = (loaded, queue) }
        func drop() { (loaded, queue) = (nil, nil) }
    }
}
