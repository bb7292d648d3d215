import DLServe
import Logging

/// The serving engine behind `dlserve serve`. Until target DLServing lands
/// this is a backend with no models that is ready at once.
func makeBackend(settings: ServeSettings, logger: Logger) throws -> any ServingBackend {
    EmptyBackend()
}

struct EmptyBackend: ServingBackend {
    func start() async throws {}
    func isReady() async -> Bool { true }
    func poll() async {}
    func shutdown() async {}
    func models() async -> [ModelStatus] { [] }
    func model(_ name: String) async throws -> ModelStatus { throw ServeFailure.modelNotFound(name) }
    func metadata(_ name: String, version: Int?) async throws -> ModelMetadata { throw ServeFailure.modelNotFound(name) }
    func isModelReady(_ name: String, version: Int?) async throws -> Bool { throw ServeFailure.modelNotFound(name) }
    func classify(_ request: ClassifyRequest) async throws -> ClassifyResult { throw ServeFailure.modelNotFound(request.model) }
    func infer(_ request: TensorInferRequest) async throws -> TensorInferResult { throw ServeFailure.modelNotFound(request.model) }
    func load(_ name: String) async throws -> ModelStatus { throw ServeFailure.modelNotFound(name) }
    func unload(_ name: String) async throws -> ModelStatus { throw ServeFailure.modelNotFound(name) }
}
