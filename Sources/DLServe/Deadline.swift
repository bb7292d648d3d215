import DLServing
import Foundation
import Hummingbird

extension ServeAPI {
    /// Runs `operation` with the request timeout: past it the operation's
    /// queued work is dropped and the client gets 504. A client that goes
    /// away meanwhile (`ClientCloseHandler`) has its work dropped at once too,
    /// and the request ends as 499. The operation runs in the request's own
    /// task under a `RequestScope` that the deadline keeper and the
    /// connection's close handler end; the schedulers' waits listen to it.
    func withDeadline<T: Sendable>(
        _ context: ServeRequestContext, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = settings.requestTimeout
        let scope = RequestScope(deadline: .now + timeout)
        let watcher = ClientCloseHandler.handler(for: context.channel)
        watcher?.attach(scope)
        defer {
            watcher?.detach(scope)
            scope.finish()
        }
        let outcome: Result<T, Error>
        do {
            outcome = .success(try await RequestScope.$current.withValue(scope) { try await operation() })
        } catch {
            outcome = .failure(error)
        }
        switch (outcome, scope.reason) {
        case (.success(let value), _): return value
        case (.failure, .clientClosed?): throw ServingError.clientClosed
        case (.failure, .timedOut?): throw ServingError.timeout(model: context.modelLabel.value ?? "", after: timeout)
        case (.failure(let error), nil): throw error
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
