import DLServing
import Foundation
import Hummingbird

extension ServeAPI {
    /// Runs `operation` with the request timeout: past it the operation is
    /// cancelled (its queued work is dropped) and the client gets 504. A client
    /// that goes away meanwhile (`ClientCloseHandler`) has its operation
    /// cancelled at once too, and the request ends as 499.
    func withDeadline<T: Sendable>(
        _ context: ServeRequestContext, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = settings.requestTimeout
        let watcher = await ClientCloseHandler.find(on: context.channel)
        return try await withThrowingTaskGroup(of: DeadlineOutcome<T>.self) { group in
            group.addTask { .value(try await operation()) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return .timedOut
            }
            if let watcher {
                group.addTask {
                    await watcher.waitForClose()
                    try Task.checkCancellation()
                    return .clientClosed
                }
            }
            defer { group.cancelAll() }
            switch try await group.next() {
            case .value(let value)?: return value
            case .clientClosed?: throw ServingError.clientClosed
            case .timedOut?, nil: throw ServingError.timeout(model: context.modelLabel.value ?? "", after: timeout)
            }
        }
    }
}

/// Which child of `withDeadline` finished first.
enum DeadlineOutcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
    case clientClosed
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
