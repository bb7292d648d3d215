import Foundation

/// Runs served tasks for a unit that is not itself a request handler (a face
/// gallery embedding its enrollment photos in the background): the daemon's
/// backend, or a test's.
public protocol TaskPerformer: Sendable {
    /// Runs a served task's request on one pinned version of a model (nil: the serving version).
    func perform<T: ServingTask>(_ task: T, model: String, version: Int?, request: T.Request, requestID: String) async throws -> T.Response
    /// Every model, its versions and which one serves.
    func models() async -> [ModelStatus]
}

/// A served unit with routes of its own beyond one POST per task (a face
/// gallery: enroll, list, show, delete, identify). The HTTP layer routes
/// `METHOD /v1/models/{name}/PATH` to `handle`; it knows nothing else of them.
public protocol EndpointProvider: Sendable {
    var endpoints: [TaskEndpoint] { get }
}

/// One route: its method, its path after `/v1/models/{name}/` (with
/// `:param` segments), whether it changes state (then it needs the bearer
/// token when one is configured), and its handler.
public struct TaskEndpoint: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", delete = "DELETE" }

    public var method: Method
    public var path: String
    public var changesState: Bool
    public var handler: @Sendable (EndpointRequest) async throws -> EndpointReply

    public init(_ method: Method, _ path: String, changesState: Bool, handler: @escaping @Sendable (EndpointRequest) async throws -> EndpointReply) {
        (self.method, self.path, self.changesState, self.handler) = (method, path, changesState, handler)
    }
}

/// What an endpoint handler sees of a request.
public struct EndpointRequest: Sendable {
    public var model: String
    /// Path parameters (`:id`).
    public var parameters: [String: String]
    public var body: TaskBody
    public var requestID: String

    public init(model: String, parameters: [String: String] = [:], body: TaskBody, requestID: String) {
        (self.model, self.parameters, self.body, self.requestID) = (model, parameters, body, requestID)
    }
}

/// An endpoint's answer: a status (200, 201, ...) and a JSON body.
public struct EndpointReply: Sendable {
    public var status: Int
    public var body: any Encodable & Sendable

    public init(status: Int = 200, _ body: any Encodable & Sendable) { (self.status, self.body) = (status, body) }
}
