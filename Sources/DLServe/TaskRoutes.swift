import DLServing
import Foundation
import Hummingbird

/// `POST /v1/models/{name}[/versions/{version}]/{route}` for every registered
/// `ServingTask` (classify, sentiment, ...): the task decodes the body (JSON,
/// or what else it reads) into its request (a body that does not decode is a
/// 400 naming the problem), the backend runs it on one pinned
/// version under the request's deadline, and the task's response is the JSON
/// answer.
extension ServeAPI {
    func addTaskRoutes(to router: Router<ServeRequestContext>) {
        for task in tasks { addRoutes(for: task, to: router) }
    }

    private func addRoutes<T: ServingTask>(for task: T, to router: Router<ServeRequestContext>) {
        let handler: @Sendable (Request, ServeRequestContext) async throws -> TaskResponse<T.Response> = { request, context in
            try await self.perform(task, request, context)
        }
        router.post(RouterPath("/v1/models/:name/\(T.route)"), use: handler)
        router.post(RouterPath("/v1/models/:name/versions/:version/\(T.route)"), use: handler)
    }

    func perform<T: ServingTask>(_ task: T, _ request: Request, _ context: ServeRequestContext) async throws -> TaskResponse<T.Response> {
        let name = try RequestDecoding.name(context)
        context.modelLabel.value = name
        let version = try RequestDecoding.version(context)
        let body = try await RequestDecoding.body(request, limit: settings.maxBodyBytes)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let decoded = try T.decode(TaskBody(bytes: Array(body.readableBytesView), mediaType: RequestDecoding.mediaType(request), query: query))
        let requestID = context.requestID
        let response = try await withDeadline(context) {
            try await self.backend.perform(task, model: name, version: version, request: decoded, requestID: requestID)
        }
        return TaskResponse(value: response)
    }
}

/// A task's answer as the HTTP response (JSON, 200).
struct TaskResponse<Value: Encodable & Sendable>: ResponseEncodable, Sendable {
    let value: Value
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}
