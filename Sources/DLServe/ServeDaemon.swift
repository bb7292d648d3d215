import DLServing
import DLJobs
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import UnixSignals

/// `dlserve serve`: the HTTP server, the model poller, the backend and the
/// systemd notifications in one ServiceGroup with graceful shutdown on SIGTERM
/// and SIGINT.
public struct ServeDaemon: Sendable {
    public let settings: ServeSettings
    public let backend: any ServingBackend
    public let metrics: ServeMetrics
    public let logger: Logger
    public let notifier: SystemdNotifier
    /// The training job queue, when the daemon runs one (the /v1/jobs routes).
    public let jobs: JobQueue?
    public let state = ServeLifecycleState()
    public let tasks: [any ServingTask]
    public let endpoints: [any EndpointProvider]

    public init(settings: ServeSettings, backend: any ServingBackend, metrics: ServeMetrics, logger: Logger,
                notifier: SystemdNotifier = SystemdNotifier(), jobs: JobQueue? = nil, tasks: [any ServingTask] = [],
                endpoints: [any EndpointProvider] = []) {
        self.tasks = tasks
        self.endpoints = endpoints
        self.settings = settings
        self.backend = backend
        self.metrics = metrics
        self.logger = logger
        self.notifier = notifier
        self.jobs = jobs
    }

    /// The HTTP application over the backend (also what the tests run).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let api = ServeAPI(backend: backend, settings: try settings.httpSettings, state: state, metrics: metrics,
                           jobs: jobs.map { JobController(queue: $0) }, tasks: tasks, endpoints: endpoints)
        let logger = self.logger
        return Application(
            router: api.makeRouter(),
            server: try Self.serverBuilder(settings, connections: metrics.connections),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "dlserve/\(DLServeVersion.current)"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("listening", metadata: ["address": "\(settings.host):\(port)"])
                await onServerRunning(port)
            },
            logger: logger
        )
    }

    /// Runs until SIGTERM/SIGINT, then drains for at most `drainTimeout` seconds.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await makeServiceGroup(signals: [.sigterm, .sigint], onServerRunning: onServerRunning).run()
        logger.notice("stopped")
    }

    /// The service group of the daemon; tests trigger its graceful shutdown directly.
    public func makeServiceGroup(
        signals: [UnixSignal] = [], onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> ServiceGroup {
        let app = try makeApplication(onServerRunning: onServerRunning)
        // The job queue stops right after the announcer: running jobs go back to
        // the queue at their next batch and event streams end, so the HTTP drain
        // does not wait for followers; promotion still finds the backend up.
        let services: [any Service] = [
            BackendService(backend: backend, state: state, notifier: notifier, logger: logger),
            WatchdogService(notifier: notifier),
            ModelPollerService(backend: backend, state: state, interval: .milliseconds(Int64(settings.pollInterval * 1000)), logger: logger),
            app,
        ] + (jobs.map { [$0] } ?? []) + [
            ShutdownAnnouncerService(state: state, notifier: notifier, logger: logger),
        ]
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(settings.drainTimeout * 1000))
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }

    /// HTTP/1.1, over TLS when a certificate and key are configured.
    static func serverBuilder(_ settings: ServeSettings, connections: ConnectionCounters) throws -> HTTPServerBuilder {
        // Every connection watches for its client going away (queued work is
        // then dropped) and is held to the connection limits.
        let limits = settings.connectionLimits
        let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [
            ConnectionGuard(limits: limits, counters: connections), ClientCloseHandler(),
        ]))
        guard let certPath = settings.tlsCert, let keyPath = settings.tlsKey else { return http1 }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certPath)
        } catch {
            throw SettingsError("cannot read TLS certificate \(certPath): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw SettingsError("cannot read TLS key \(keyPath): \(error)")
        }
        guard !chain.isEmpty else { throw SettingsError("TLS certificate \(certPath) holds no certificate") }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return try .tls(http1, tlsConfiguration: tls)
    }

    /// A bare Hummingbird app with one constant route, for measuring the
    /// daemon's overhead (`dlserve serve --bench-constant-route`).
    public static func makeConstantApplication(host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        let body = ByteBuffer(string: #"{"model":"constant","version":1,"predictions":[{"label":"T-shirt/top","index":0,"probability":1}]}"#)
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        router.get("/", use: handler)
        router.post("/", use: handler)
        router.post("/v1/models/:name/classify", use: handler)
        var logger = logger
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                print("constant route listening on \(host):\(channel.localAddress?.port ?? 0)")
            },
            logger: logger)
    }
}
