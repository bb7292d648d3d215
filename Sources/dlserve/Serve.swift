import DLTasks
import ArgumentParser
import DLNN
import DLServe
import Foundation
import Logging
import Metrics
import Prometheus

/// `dlserve serve`: runs the daemon. Every option can also come from a
/// `DLSERVE_*` environment variable or the JSON config file (flag > env > file > default).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the models of a repository over HTTP.",
        discussion: """
            Settings come from flags, then DLSERVE_* environment variables (DLSERVE_PORT, \
            DLSERVE_MODELS, ...), then the JSON config file (--config or DLSERVE_CONFIG, \
            keys in snake_case: {"port": 9000, "max_body_bytes": 1048576}), then defaults.
            """
    )

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on; 0 picks a free one (default 8080).") var port: Int?
    @Option(help: "Model repository directory (default ./models).") var models: String?
    @Option(help: "State directory (default ./var).") var state: String?
    @Option(help: "Inference worker threads (default: the core count).") var workers: Int?
    @Option(help: "Largest request body in bytes (default 8 MiB).") var maxBodyBytes: Int?
    @Option(help: "Seconds before a request answers 504 (default 30).") var requestTimeout: Double?
    @Option(help: "Seconds between scans of the repository for new versions (default 2).") var pollInterval: Double?
    @Option(help: "Seconds in-flight requests get to finish on SIGTERM (default 30).") var drainTimeout: Double?
    @Option(help: "Seconds a new connection has to send its first request head (default 60).") var headerTimeout: Double?
    @Option(help: "Seconds a keep-alive connection may wait for its next request (default 60).") var idleTimeout: Double?
    @Option(help: "Longest gap in seconds between reads of a request body (default 60).") var bodyTimeout: Double?
    @Option(help: "Slowest average request body rate in bytes/s, after --body-timeout seconds (default 1024).") var bodyMinRate: Int?
    @Option(help: "Open connections at most; more are closed at once (default 4096).") var maxConnections: Int?
    @Option(help: "TLS certificate (PEM); needs --tls-key.") var tlsCert: String?
    @Option(help: "TLS private key (PEM); needs --tls-cert.") var tlsKey: String?
    @Option(help: "File whose first line is the bearer token required by load/unload.") var tokenFile: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (default info).") var logLevel: String?
    @Option(help: "JSON config file (also DLSERVE_CONFIG).") var config: String?
    @Option(help: "Training jobs waiting at most; one more answers 429 (default 16).") var jobCapacity: Int?
    @Option(help: "Training jobs that run at once (default 1).") var jobWorkers: Int?
    @Option(help: "Most epochs a job may ask for (default 200).") var jobMaxEpochs: Int?
    @Option(help: "Most training images a job may use (default 100000).") var jobMaxTrainImages: Int?
    @Option(help: "Nice value of the training threads, 0...19 (default 19: inference runs first).") var jobNice: Int?
    @Flag(help: .hidden) var benchConstantRoute = false

    var flagLayer: ServeSettings.Layer {
        var layer = ServeSettings.Layer()
        layer.host = host
        layer.port = port
        layer.models = models
        layer.state = state
        layer.workers = workers
        layer.maxBodyBytes = maxBodyBytes
        layer.requestTimeout = requestTimeout
        layer.pollInterval = pollInterval
        layer.drainTimeout = drainTimeout
        layer.headerTimeout = headerTimeout
        layer.idleTimeout = idleTimeout
        layer.bodyTimeout = bodyTimeout
        layer.bodyMinRate = bodyMinRate
        layer.maxConnections = maxConnections
        layer.tlsCert = tlsCert
        layer.tlsKey = tlsKey
        layer.tokenFile = tokenFile
        layer.logLevel = logLevel
        layer.jobCapacity = jobCapacity
        layer.jobWorkers = jobWorkers
        layer.jobMaxEpochs = jobMaxEpochs
        layer.jobMaxTrainImages = jobMaxTrainImages
        layer.jobNice = jobNice
        return layer
    }

    func resolvedSettings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServeSettings {
        let env = try ServeSettings.Layer.environment(environment)
        let configPath = config ?? environment["DLSERVE_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let file = try configPath.map(ServeSettings.Layer.file) ?? ServeSettings.Layer()
        return try ServeSettings.resolve([flagLayer, env, file])
    }

    func run() async throws {
        let settings: ServeSettings
        do {
            settings = try resolvedSettings()
            _ = try settings.httpSettings  // reads the token file now, so a bad one fails at start
        } catch let error as SettingsError {
            throw ValidationError(error.description)
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: level) }
        defer { LogSink.standardError.flush() }
        let logger = Logger(label: "dlserve")

        if benchConstantRoute {
            let app = ServeDaemon.makeConstantApplication(host: settings.host, port: settings.port, logger: logger)
            try await app.runService()
            return
        }

        let metrics = ServeMetrics()
        // Engine metrics go to the daemon's registry through the factory the
        // engine is given; anything else using swift-metrics lands there too.
        MetricsSystem.bootstrap(metrics.factory)
        let backend = try makeBackend(settings: settings, metrics: metrics, logger: logger)
        let jobs = try makeJobQueue(settings: settings, backend: backend, logger: logger)
        let gallery: FaceGallery
        do {
            gallery = try FaceGallery(stateDirectory: URL(fileURLWithPath: settings.state, isDirectory: true),
                                      repository: ModelRepository(root: URL(fileURLWithPath: settings.models, isDirectory: true)),
                                      performer: backend)
        } catch {
            throw ValidationError("cannot open the face gallery under \(settings.state): \(error)")
        }
        let daemon = ServeDaemon(settings: settings, backend: backend, metrics: metrics, logger: logger, jobs: jobs,
                                 tasks: ServedTasks.all, endpoints: [gallery])
        logger.notice(
            "starting",
            metadata: ["models": "\(settings.models)", "state": "\(settings.state)", "version": "\(DLServeVersion.current)"])
        gallery.start()
        defer { gallery.stop() }
        try await daemon.run()
    }
}
