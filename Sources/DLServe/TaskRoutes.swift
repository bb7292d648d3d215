import DLServing
import Foundation
import Hummingbird

/// `POST /v1/models/{name}[/versions/{version}]/{route}` for every registered
/// `ServingTask` (classify, sentiment, ...): the task decodes the body (JSON,
/// or what else it reads) into its request (a body that does not decode is a
/// 400 naming the problem), the backend runs it on one pinned
/// version under the request's deadline, and the task's response is the JSON
/// answer, or another format the response offers (`AlternativeRepresentable`,
/// chosen by `ResponseFormat`).
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
        var body = try await taskBody(request)
        let format = try ResponseFormat.choose(for: T.Response.self, query: body.query, accept: request.headers[values: .accept])
        body.responseFormat = format?.name
        let decoded = try T.decode(body)
        let requestID = context.requestID
        let response = try await withDeadline(context) {
            try await self.backend.perform(task, model: name, version: version, request: decoded, requestID: requestID)
        }
        guard let format, let renderable = response as? any AlternativeRepresentable else { return TaskResponse(value: response) }
        return TaskResponse(value: response, rendered: (format.mediaType, try renderable.rendered(as: format.name)))
    }
}

extension ServeAPI {
    /// A request as a task sees it: the body (within the size limit), its
    /// media type and parameters, the query.
    func taskBody(_ request: Request) async throws -> TaskBody {
        let body = try await RequestDecoding.body(request, limit: settings.maxBodyBytes)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let contentType = TaskBody.parseContentType(request.headers[.contentType])
        return TaskBody(bytes: Array(body.readableBytesView), mediaType: contentType.mediaType, query: query,
                        mediaTypeParameters: contentType.parameters)
    }
}

/// A task's answer as the HTTP response: JSON (200), or a body already
/// rendered in another media type.
struct TaskResponse<Value: Encodable & Sendable>: ResponseGenerator, Sendable {
    let value: Value
    var rendered: (mediaType: String, bytes: [UInt8])?

    init(value: Value, rendered: (mediaType: String, bytes: [UInt8])? = nil) {
        self.value = value
        self.rendered = rendered
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        guard let rendered else {
            guard let writable = value as? any JSONWritable else {
                return try context.responseEncoder.encode(value, from: request, context: context)
            }
            return Self.json(JSONWriter.encode(writable))
        }
        // Text formats (SVG) say their charset; binary ones (PNG) must not.
        let textual = rendered.mediaType.hasPrefix("text/") || rendered.mediaType.hasSuffix("+xml")
        return Response(status: .ok, headers: [.contentType: rendered.mediaType + (textual ? "; charset=utf-8" : "")],
                        body: .init(byteBuffer: ByteBuffer(bytes: rendered.bytes)))
    }
}

extension TaskResponse {
    /// A 200 with a JSON body, with the headers `JSONEncoder`'s responses carry.
    static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok,
                 headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(bytes.count)],
                 body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The answer format a task request asks for: `?format=NAME` (`json` or one
/// of the response's alternative formats; anything else is a 400), else the
/// first media type of the Accept header (by q-value, then order) that is
/// JSON (or a wildcard) or one of the alternatives. Nil means JSON. Responses
/// without alternatives ignore both, as before.
struct ResponseFormat: Equatable {
    var name: String
    var mediaType: String

    static func choose<R>(for response: R.Type, query: [String: String], accept: [String]) throws -> ResponseFormat? {
        guard let alternatives = (response as? any AlternativeRepresentable.Type)?.alternativeFormats else { return nil }
        if let asked = query["format"] {
            if asked == "json" { return nil }
            guard let mediaType = alternatives[asked] else {
                let known = (["json"] + alternatives.keys.sorted()).joined(separator: ", ")
                throw ServingError.badRequest("unknown format '\(asked)' (expected one of: \(known))")
            }
            return ResponseFormat(name: asked, mediaType: mediaType)
        }
        let byMediaType = Dictionary(uniqueKeysWithValues: alternatives.map { ($0.value, $0.key) })
        for range in Self.mediaRanges(accept) {
            if ["application/json", "*/*", "application/*"].contains(range) { return nil }
            if let name = byMediaType[range] { return ResponseFormat(name: name, mediaType: range) }
        }
        return nil
    }

    /// Accept header values as media ranges, best first (q descending, then
    /// order); q=0 ranges are left out.
    static func mediaRanges(_ headers: [String]) -> [String] {
        var ranges: [(range: String, q: Double, order: Int)] = []
        for item in headers.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let range = parts.first, !range.isEmpty else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if q > 0 { ranges.append((range, q, ranges.count)) }
        }
        return ranges.sorted { $0.q != $1.q ? $0.q > $1.q : $0.order < $1.order }.map(\.range)
    }
}
