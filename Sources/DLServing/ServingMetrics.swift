import CoreMetrics
import Foundation

/// The engine's metrics, through swift-metrics (the daemon bootstraps a
/// Prometheus backend; tests inject `TestMetrics`). Names, all with a `model`
/// dimension:
///
/// - `dlserve_requests_total{model, status}` counter; status is "ok" or a `ServingError.code`
/// - `dlserve_request_duration_seconds{model}` timer (histogram): submission to answer
/// - `dlserve_queue_time_seconds{model}` timer: submission to batch start
/// - `dlserve_compute_time_seconds{model}` timer: one batch's computation
/// - `dlserve_batch_size{model}` recorder (histogram): rows per batch
/// - `dlserve_queue_depth{model}` gauge: queued requests
/// - `dlserve_padded_tokens_total{model}` counter: padding ids added to batch
///   sequences of different lengths (text models)
/// - `dlserve_model_versions{model, state}` gauge: versions per `VersionState.name`
/// - `dlserve_model_ready{model}` gauge: 1 when unpinned requests are served
final class ServingMetrics: @unchecked Sendable {
    final class PerModel: @unchecked Sendable {
        let duration: CoreMetrics.Timer
        let queueTime: CoreMetrics.Timer
        let computeTime: CoreMetrics.Timer
        let batchSize: Recorder
        let paddedTokens: Counter
        let queueDepth: Gauge
        let ready: Gauge
        let states: [String: Gauge]
        let model: String
        private let factory: any MetricsFactory
        private let counters = Locked<[String: Counter]>([:])

        init(model: String, factory: any MetricsFactory) {
            self.model = model
            self.factory = factory
            let dims = [("model", model)]
            duration = CoreMetrics.Timer(label: "dlserve_request_duration_seconds", dimensions: dims, factory: factory)
            queueTime = CoreMetrics.Timer(label: "dlserve_queue_time_seconds", dimensions: dims, factory: factory)
            computeTime = CoreMetrics.Timer(label: "dlserve_compute_time_seconds", dimensions: dims, factory: factory)
            batchSize = Recorder(label: "dlserve_batch_size", dimensions: dims, aggregate: true, factory: factory)
            queueDepth = Gauge(label: "dlserve_queue_depth", dimensions: dims, factory: factory)
            paddedTokens = Counter(label: "dlserve_padded_tokens_total", dimensions: dims, factory: factory)
            ready = Gauge(label: "dlserve_model_ready", dimensions: dims, factory: factory)
            var states: [String: Gauge] = [:]
            for s in VersionState.allNames {
                states[s] = Gauge(label: "dlserve_model_versions", dimensions: dims + [("state", s)], factory: factory)
            }
            self.states = states
        }

        /// Counts one answered request; `status` is "ok" or an error code.
        func count(status: String) {
            let counter = counters.withLock { cache in
                if let c = cache[status] { return c }
                let c = Counter(label: "dlserve_requests_total", dimensions: [("model", model), ("status", status)],
                                factory: factory)
                cache[status] = c
                return c
            }
            counter.increment()
        }

        func record(versions: [VersionState], isReady: Bool) {
            var counts = Dictionary(uniqueKeysWithValues: VersionState.allNames.map { ($0, 0) })
            for s in versions { counts[s.name, default: 0] += 1 }
            for (name, gauge) in states { gauge.record(counts[name] ?? 0) }
            ready.record(isReady ? 1 : 0)
        }
    }

    private let factory: any MetricsFactory
    private let models = Locked<[String: PerModel]>([:])

    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func model(_ name: String) -> PerModel {
        models.withLock { cache in
            if let m = cache[name] { return m }
            let m = PerModel(model: name, factory: factory)
            cache[name] = m
            return m
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }

    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
