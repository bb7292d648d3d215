import DLJobs
import DLServe
import DLServing
import DLTasks
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdTLS
import Logging
import ServiceLifecycle

/// A whole daemon (HTTP server, poller, backend, announcer) running in this
/// process on 127.0.0.1 with a free port, for live tests with real sockets.
public final class LiveDaemon: Sendable {
    public let daemon: ServeDaemon
    public let group: ServiceGroup
    public let port: Int
    let task: Task<Void, any Error>

    /// Starts the daemon and returns once the server listens.
    public static func start(
        backend: any ServingBackend, settings: ServeSettings = LiveDaemon.settings(), metrics: ServeMetrics = ServeMetrics(),
        notifier: SystemdNotifier = SystemdNotifier(environment: [:]), jobs: JobQueue? = nil,
        tasks: [any ServingTask] = ServedTasks.all
    ) async throws -> LiveDaemon {
        let daemon = ServeDaemon(settings: settings, backend: backend, metrics: metrics, logger: testLogger, notifier: notifier,
                                 jobs: jobs, tasks: tasks)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let group = try daemon.makeServiceGroup { port in
            continuation.yield(port)
            continuation.finish()
        }
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return LiveDaemon(daemon: daemon, group: group, port: port, task: task)
    }

    /// The daemon over the real serving engine and the repository at `models`.
    public static func startEngine(models: URL, settings: ServeSettings = LiveDaemon.settings()) async throws -> LiveDaemon {
        var settings = settings
        settings.models = models.path
        let metrics = ServeMetrics()
        let backend = EngineBackend(settings: settings, metrics: metrics, logger: testLogger)
        return try await start(backend: backend, settings: settings, metrics: metrics)
    }

    static var testLogger: Logger {
        var logger = Logger(label: "dlserve-live-test")
        logger.logLevel = ProcessInfo.processInfo.environment["DLSERVE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// Waits until `GET /v2/health/ready` answers 200.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let response = try? await request("/v2/health/ready"), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CancellationError()
    }

    init(daemon: ServeDaemon, group: ServiceGroup, port: Int, task: Task<Void, any Error>) {
        self.daemon = daemon
        self.group = group
        self.port = port
        self.task = task
    }

    /// Port 0, short polls and timeouts.
    public static func settings(pollInterval: Double = 0.1, requestTimeout: Double = 10, drainTimeout: Double = 10) -> ServeSettings {
        var s = ServeSettings()
        s.port = 0
        s.pollInterval = pollInterval
        s.requestTimeout = requestTimeout
        s.drainTimeout = drainTimeout
        return s
    }

    /// SIGTERM's path without the signal: graceful shutdown, then wait for the group.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Waits for the group to end (after `stop` was triggered elsewhere).
    public func wait() async throws {
        try await task.value
    }

    /// One request over TLS on a new connection (the certificate is not verified).
    public func requestTLS(_ uri: String) async throws -> TestClient.Response {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(tlsConfiguration: tls, serverName: "localhost")) { client in
            try await client.execute(TestClient.Request(uri, method: .get))
        }
    }

    /// One request on a new connection.
    public func request(
        _ uri: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: ByteBuffer? = nil
    ) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.execute(TestClient.Request(uri, method: method, headers: headers, body: body))
        }
    }
}
