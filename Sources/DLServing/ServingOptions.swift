import CoreMetrics
import Foundation
import Logging

/// Engine settings (the daemon fills them from flags, `DLSERVE_*` variables
/// and its config file).
public struct ServingOptions: Sendable {
    /// Inference worker threads (the engine's own, not Swift concurrency's pool).
    public var workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// A request for a model whose batches take less than this (moving
    /// average), arriving when nothing is queued and no batch runs, runs at once on the caller's thread instead of waking a
    /// worker and waiting for it: two thread hand-offs fewer for small
    /// models. nil or zero turns it off.
    public var inlineBelow: Duration? = .microseconds(500)
    /// OpenBLAS threads; 1 so BLAS does not fight the worker pool.
    public var blasThreads: Int = 1
    /// How often the repository is rescanned for new, changed or removed
    /// versions; nil disables polling (explicit `load` still works).
    public var pollInterval: Duration? = .seconds(5)
    /// Deadline of a request that brings none and whose model sets none.
    public var defaultTimeout: Duration = .seconds(30)
    /// A version whose files did not change since its load failed is retried
    /// after this long (a changed fingerprint, or an explicit load, retries at once).
    public var retryFailedAfter: Duration = .seconds(300)
    /// Largest decoded image, width * height (decompression-bomb guard).
    public var maxImagePixels: Int = 4096 * 4096
    /// Run one inference on a zero input before a version serves.
    public var warmUp: Bool = true
    /// Ready only when every enabled model with versions serves one (true), or
    /// when start-up has finished (false).
    public var strictReadiness: Bool = true
    public var logger: Logger = Logger(label: "dlserve.serving")
    /// Where metrics go; nil means the process-wide `MetricsSystem.factory`
    /// (which the daemon bootstraps with Prometheus).
    public var metricsFactory: (any MetricsFactory)? = nil

    public init() {}
}
