import DLServing
import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// The daemon's Prometheus registry and the metrics the HTTP layer owns:
/// requests by route/model/status, request latency, model states (refreshed
/// at scrape time) and process resident memory. The engine's own metrics
/// (queue time, batch size, queue depth) arrive through swift-metrics, which
/// the daemon bootstraps with a `PrometheusMetricsFactory` on this same registry.
public final class ServeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// Latency buckets in seconds: 0.5 ms to 10 s.
    static let latencyBuckets: [Double] = [
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
    ]

    private let residentMemory: Gauge
    private let virtualMemory: Gauge
    private let cpuSeconds: Counter
    /// Open connections and the ones closed for a limit (`ConnectionGuard`).
    public let connections = ConnectionCounters()
    private let connectionsOpen: Gauge
    private let connectionsRefused: Counter
    private let reported = NIOLockedValueBox([String: Int]())
    private let cpuReported = NIOLockedValueBox(0.0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        residentMemory = registry.makeGauge(
            name: "dlserve_process_resident_memory_bytes", help: "Resident memory size of the daemon in bytes.")
        virtualMemory = registry.makeGauge(
            name: "dlserve_process_virtual_memory_bytes", help: "Virtual memory size of the daemon in bytes.")
        connectionsOpen = registry.makeGauge(name: "dlserve_connections_open", help: "Open client connections.")
        connectionsRefused = registry.makeCounter(
            name: "dlserve_connections_refused_total", help: "Connections closed at once because max_connections were open.")
        cpuSeconds = registry.makeCounter(
            name: "dlserve_process_cpu_seconds_total",
            help: "CPU time (user + system) the daemon has used since it started, in seconds.")
    }

    /// The series of one (route, method, status, model): looked up once,
    /// then kept, so a request costs a dictionary lookup instead of the
    /// registry's name and label checks.
    private struct SeriesKey: Hashable {
        var route: String
        var method: String
        var status: Int
        var model: String?
    }

    private struct Series {
        let requests: Counter
        let duration: ValueHistogram
        let modelRequests: Counter?
        let modelDuration: ValueHistogram?
    }

    private let series = NIOLockedValueBox<[SeriesKey: Series]>([:])

    /// One finished HTTP request.
    public func recordRequest(route: String, method: String, status: Int, model: String?, seconds: Double) {
        let key = SeriesKey(route: route, method: method, status: status, model: model)
        let s = series.withLockedValue { cache in
            if let s = cache[key] { return s }
            let s = makeSeries(key)
            cache[key] = s
            return s
        }
        s.requests.increment()
        s.duration.record(seconds)
        s.modelRequests?.increment()
        s.modelDuration?.record(seconds)
    }

    private func makeSeries(_ key: SeriesKey) -> Series {
        let statusLabel = String(key.status)
        return Series(
            requests: registry.makeCounter(
                name: "dlserve_http_requests_total",
                labels: [("route", key.route), ("method", key.method), ("status", statusLabel)],
                help: "HTTP requests by route, method and status."),
            duration: registry.makeValueHistogram(
                name: "dlserve_http_request_duration_seconds", labels: [("route", key.route)],
                buckets: Self.latencyBuckets, help: "HTTP request latency by route, in seconds."),
            modelRequests: key.model.map { model in
                registry.makeCounter(
                    name: "dlserve_model_requests_total", labels: [("model", model), ("status", statusLabel)],
                    help: "Model requests (classify, infer) by model and status.")
            },
            modelDuration: key.model.map { model in
                registry.makeValueHistogram(
                    name: "dlserve_model_request_duration_seconds", labels: [("model", model)],
                    buckets: Self.latencyBuckets, help: "Model request latency (end to end, in the daemon) in seconds.")
            })
    }

    /// Refreshes the gauges read at scrape time: model states and memory.
    public func refresh(models: [ModelStatus]) {
        let states = ["loading", "ready", "unavailable", "failed", "unloaded"]  // DLServing.ModelStatus.state
        for model in models {
            for state in states {
                registry.makeGauge(
                    name: "dlserve_model_state", labels: [("model", model.name), ("state", state)],
                    help: "1 for the state each model is in, 0 for the others."
                ).set(model.state == state ? 1.0 : 0.0)
            }
            registry.makeGauge(
                name: "dlserve_model_serving_version", labels: [("model", model.name)],
                help: "The version answering unpinned requests (0 when none)."
            ).set(Double(model.defaultVersion ?? 0))
        }
        if let memory = ProcessMemory.read() {
            residentMemory.set(Double(memory.residentBytes))
            virtualMemory.set(Double(memory.virtualBytes))
        }
        let delta = cpuReported.withLockedValue { reported -> Double in
            let now = ProcessMemory.cpuSeconds()
            defer { reported = max(reported, now) }
            return max(0, now - reported)
        }
        cpuSeconds.increment(by: delta)
        connectionsOpen.set(Double(connections.open))
        var counts = ["refused": connections.refused]
        for reason in ConnectionGuard.reasons { counts[reason] = connections.timedOut(reason) }
        let deltas = reported.withLockedValue { last -> [String: Int] in
            defer { last = counts }
            return counts.reduce(into: [:]) { d, kv in d[kv.key] = kv.value - (last[kv.key] ?? 0) }
        }
        connectionsRefused.increment(by: Int64(deltas["refused"] ?? 0))
        for reason in ConnectionGuard.reasons {
            registry.makeCounter(
                name: "dlserve_connections_timed_out_total", labels: [("reason", reason)],
                help: "Connections closed for a limit: header (no request head in time), idle (keep-alive), body (a gap in the body), body_rate (a body slower than body_min_rate)."
            ).increment(by: Int64(deltas[reason] ?? 0))
        }
    }

    /// A swift-metrics factory writing to this registry (for the engine's metrics).
    public var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets.map { .nanoseconds(Int64($0 * 1e9)) }
        factory.valueHistogramBuckets["dlserve_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        return factory
    }

    /// The Prometheus text exposition.
    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// Memory of this process, from /proc/self/statm (Linux).
public struct ProcessMemory: Sendable {
    public var residentBytes: Int
    public var virtualBytes: Int

    public static func read() -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard fields.count >= 2 else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return ProcessMemory(residentBytes: fields[1] * page, virtualBytes: fields[0] * page)
    }

    /// User + system CPU time of this process (all threads), in seconds.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
