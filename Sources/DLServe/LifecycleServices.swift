import Logging
import ServiceLifecycle

// The long-running parts of the daemon, as services of one ServiceGroup. The
// group shuts services down in reverse order, one after the other, so the
// daemon lists them as [backend, watchdog, poller, http, announcer]:
// on SIGTERM the announcer flips readiness and tells systemd STOPPING=1, then
// the HTTP server stops accepting and drains in-flight requests, then the
// poller stops, then the backend finishes its queues and frees its models;
// the watchdog keeps pinging until the backend is done.

/// Starts the backend (loads and warms every model), tells systemd READY=1,
/// and on shutdown stops the backend.
public struct BackendService: Service {
    let backend: any ServingBackend
    let state: ServeLifecycleState
    let notifier: SystemdNotifier
    let logger: Logger

    public init(backend: any ServingBackend, state: ServeLifecycleState, notifier: SystemdNotifier, logger: Logger) {
        self.backend = backend
        self.state = state
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        var startError: (any Error)?
        do {
            try await cancelWhenGracefulShutdown {
                try await backend.start()
            }
        } catch is CancellationError {
            logger.notice("shutdown requested while models were loading")
        } catch {
            // A missing or unreadable repository: the daemon stays up and
            // unready, and the poller keeps trying.
            startError = error
            logger.error("the model repository cannot be read; not ready until it can", metadata: ["error": "\(error)"])
        }
        state.markStarted()
        if !Task.isShuttingDownGracefully {
            let models = await backend.models()
            let ready = models.filter { $0.state == "ready" }.count
            logger.notice("models loaded", metadata: ["ready": "\(ready)", "models": "\(models.count)"])
            if let startError {
                notifier.ready(status: "not ready: \(startError)")
            } else {
                notifier.ready(status: "serving \(ready) of \(models.count) models")
            }
            try? await gracefulShutdown()
        }
        logger.notice("stopping the inference backend")
        await backend.shutdown()
    }
}

/// Scans the model repository every `interval` once the start-up load has
/// finished (hot reload; also how a repository that was missing at start comes in).
public struct ModelPollerService: Service {
    let backend: any ServingBackend
    let state: ServeLifecycleState
    let interval: Duration
    let logger: Logger

    public init(backend: any ServingBackend, state: ServeLifecycleState, interval: Duration, logger: Logger) {
        self.backend = backend
        self.state = state
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    if state.hasStarted && !state.isDraining {
                        await backend.poll()
                    }
                }
            }
        } catch is CancellationError {}
    }
}

/// Sends WATCHDOG=1 every WatchdogSec/2 while the daemon runs (and drains).
public struct WatchdogService: Service {
    let notifier: SystemdNotifier

    public init(notifier: SystemdNotifier) {
        self.notifier = notifier
    }

    public func run() async throws {
        guard let interval = notifier.watchdogInterval, notifier.isActive else {
            try? await gracefulShutdown()
            return
        }
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    notifier.watchdog()
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {}
    }
}

/// The first service to see SIGTERM: readiness goes false at once and systemd
/// hears STOPPING=1, before the HTTP server starts draining.
public struct ShutdownAnnouncerService: Service {
    let state: ServeLifecycleState
    let notifier: SystemdNotifier
    let logger: Logger

    public init(state: ServeLifecycleState, notifier: SystemdNotifier, logger: Logger) {
        self.state = state
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        try? await gracefulShutdown()
        state.beginDraining()
        notifier.stopping()
        logger.notice("shutdown: not ready any more; draining in-flight requests")
    }
}
