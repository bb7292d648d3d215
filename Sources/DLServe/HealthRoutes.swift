import DLServing
import Foundation
import Hummingbird

/// Health, metrics and the OpenAPI document:
/// `GET /v2/health/live`, `GET /v2/health/ready`, `GET /healthz`, `GET /readyz`,
/// `GET /metrics`, `GET /openapi.yaml`.
extension ServeAPI {
    func addHealthRoutes(to router: Router<ServeRequestContext>) {
        router.get("/v2/health/live") { _, _ in
            LiveResponse(live: true)
        }
        router.get("/v2/health/ready") { _, _ in
            try await self.readiness()
        }
        router.get("/healthz") { _, _ in
            LiveResponse(live: true)
        }
        router.get("/readyz") { _, _ in
            try await self.readiness()
        }
        router.get("/metrics") { _, _ in
            await self.renderMetrics()
        }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
    }

    /// 200 {"live": true, "ready": true} when ready; 503 with the error shape otherwise.
    func readiness() async throws -> ReadyResponse {
        if state.isDraining { throw ServingError.shuttingDown }
        guard await backend.isReady() else {
            throw APIError(.serviceUnavailable, code: "not_ready", "models are still loading")
        }
        return ReadyResponse(live: true, ready: true)
    }

    func renderMetrics() async -> Response {
        guard let metrics else {
            return APIError(.notFound, code: "not_found", "metrics are disabled").response()
        }
        metrics.refresh(models: await backend.models())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
    }
}

struct LiveResponse: ResponseEncodable {
    var live: Bool
}

/// The V2 spec writes the ready body as `{"live": bool}`; KServe and Triton
/// answer `{"ready": bool}`. Both keys are sent so either client reads it.
struct ReadyResponse: ResponseEncodable {
    var live: Bool
    var ready: Bool
}
