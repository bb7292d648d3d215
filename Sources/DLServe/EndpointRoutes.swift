import DLServing
import Foundation
import Hummingbird

/// The routes of every `EndpointProvider` (a face gallery): `METHOD
/// /v1/models/{name}/PATH` handed to the provider's handler with the path
/// parameters and the body; state-changing ones behind the bearer token.
/// The answer is the handler's status and JSON body.
extension ServeAPI {
    func addEndpointRoutes(to router: Router<ServeRequestContext>) {
        let open = router.group("/v1/models/:name")
        let guarded = router.group("/v1/models/:name").add(middleware: BearerTokenMiddleware(token: settings.bearerToken))
        for provider in endpoints {
            for endpoint in provider.endpoints {
                let group = endpoint.changesState ? guarded : open
                let names = endpoint.path.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) }
                group.on(RouterPath(endpoint.path), method: .init(rawValue: endpoint.method.rawValue)!) { request, context in
                    try await self.perform(endpoint, parameters: names, request, context)
                }
            }
        }
    }

    private func perform(_ endpoint: TaskEndpoint, parameters names: [String], _ request: Request,
                         _ context: ServeRequestContext) async throws -> Response {
        let name = try RequestDecoding.name(context)
        context.modelLabel.value = name
        let parameters = Dictionary(uniqueKeysWithValues: names.compactMap { n in context.parameters.get(n).map { (n, $0) } })
        let taskBody = try await taskBody(request)
        let requestID = context.requestID
        let reply = try await withDeadline(context) {
            try await endpoint.handler(EndpointRequest(model: name, parameters: parameters, body: taskBody, requestID: requestID))
        }
        let json = try JSONEncoder().encode(EncodableBox(reply.body))
        return Response(status: .init(code: reply.status), headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

private struct EncodableBox: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}
