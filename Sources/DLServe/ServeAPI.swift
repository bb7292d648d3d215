import DLJobs
import DLServing
import Foundation
import Hummingbird

/// What the HTTP routes need to know about limits and auth.
public struct HTTPSettings: Sendable {
    public var maxBodyBytes: Int
    public var requestTimeout: Duration
    /// When set, state-changing endpoints require `Authorization: Bearer <token>`.
    public var bearerToken: String?
    /// Name and version reported by `GET /v2`.
    public var serverName: String
    public var serverVersion: String

    public init(
        maxBodyBytes: Int = 8 * 1024 * 1024, requestTimeout: Duration = .seconds(30), bearerToken: String? = nil,
        serverName: String = "dlserve", serverVersion: String = DLServeVersion.current
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
        self.bearerToken = bearerToken
        self.serverName = serverName
        self.serverVersion = serverVersion
    }
}

public enum DLServeVersion {
    public static let current = "0.1.0"
}

/// The daemon's own life, shared by the routes and the services: whether it
/// is draining for shutdown (readiness goes false at once).
public final class ServeLifecycleState: @unchecked Sendable {
    private let lock = NSLock()
    private var _draining = false
    private var _started = false

    public init() {}

    public var isDraining: Bool { lock.withLock { _draining } }

    /// True once the backend's start-up load has finished (well or not).
    public var hasStarted: Bool { lock.withLock { _started } }

    public func markStarted() {
        lock.withLock { _started = true }
    }

    public func beginDraining() {
        lock.withLock { _draining = true }
    }
}

/// The routes of the daemon over one backend. Handlers are thin: decode a
/// request type, call the backend, return an encodable response.
public struct ServeAPI: Sendable {
    public let backend: any ServingBackend
    public let settings: HTTPSettings
    public let state: ServeLifecycleState
    public let metrics: ServeMetrics?
    /// The training job queue (the /v1/jobs routes), when the daemon runs one.
    public let jobs: JobController?
    /// The served tasks with JSON routes of their own (sentiment, ...).
    public let tasks: [any ServingTask]
    /// Units with routes of their own (a face gallery).
    public let endpoints: [any EndpointProvider]

    public init(backend: any ServingBackend, settings: HTTPSettings, state: ServeLifecycleState = .init(), metrics: ServeMetrics?,
                jobs: JobController? = nil, tasks: [any ServingTask] = [], endpoints: [any EndpointProvider] = []) {
        self.tasks = tasks
        self.endpoints = endpoints
        self.backend = backend
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.jobs = jobs
    }

    /// Builds the router with every route and the middleware chain.
    public func makeRouter() -> Router<ServeRequestContext> {
        let router = Router(context: ServeRequestContext.self)
        router.add(middleware: RequestMiddleware(maxBodyBytes: settings.maxBodyBytes, metrics: metrics))
        addHealthRoutes(to: router)
        addTaskRoutes(to: router)
        addEndpointRoutes(to: router)
        addV2Routes(to: router)
        addManagementRoutes(to: router)
        if let jobs { addJobRoutes(to: router, jobs: jobs) }
        return router
    }

    /// Ready = the backend has loaded its start-up models and the daemon is not draining.
    func isReady() async -> Bool {
        if state.isDraining { return false }
        return await backend.isReady()
    }
}
