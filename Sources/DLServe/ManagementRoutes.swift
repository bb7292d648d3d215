import DLServing
import Hummingbird

/// Model management:
/// `GET /v1/models`, `GET /v1/models/{name}`,
/// `POST /v1/models/{name}/load`, `POST /v1/models/{name}/unload` (bearer token).
extension ServeAPI {
    func addManagementRoutes(to router: Router<ServeRequestContext>) {
        router.get("/v1/models") { _, _ in
            ModelList(models: await self.backend.models())
        }
        router.get("/v1/models/:name") { _, context in
            let name = try RequestDecoding.name(context)
            return ModelStatusResponse(status: try await self.backend.model(name))
        }
        let guarded = router.group("/v1/models/:name").add(middleware: BearerTokenMiddleware(token: settings.bearerToken))
        guarded.post("load") { _, context in
            let name = try RequestDecoding.name(context)
            context.logger.notice("load requested", metadata: ["model": .string(name)])
            return ModelStatusResponse(status: try await self.backend.load(name))
        }
        guarded.post("unload") { _, context in
            let name = try RequestDecoding.name(context)
            context.logger.notice("unload requested", metadata: ["model": .string(name)])
            return ModelStatusResponse(status: try await self.backend.unload(name))
        }
    }
}

struct ModelList: ResponseEncodable {
    var models: [ModelStatus]
}

struct ModelStatusResponse: ResponseEncodable {
    var status: ModelStatus

    func encode(to encoder: Encoder) throws {
        try status.encode(to: encoder)
    }
}
