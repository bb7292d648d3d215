import protocol DLServing.ServingTask
import protocol DLServing.EndpointProvider
import enum DLServing.ServingError
import class DLServing.ServingEngine
import struct DLServing.ServingOptions
import DLServe
import DLTasks
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging

/// Builds the daemon's HTTP application over any backend, listening on
/// 127.0.0.1 with a free port (for `.live` tests) or used in process (`.router`).
public func makeTestApplication(
    backend: any ServingBackend,
    settings: HTTPSettings = HTTPSettings(),
    state: ServeLifecycleState = ServeLifecycleState(),
    metrics: ServeMetrics? = ServeMetrics(),
    jobs: JobController? = nil,
    tasks: [any ServingTask] = ServedTasks.all,
    endpoints: [any EndpointProvider] = []
) -> some ApplicationProtocol {
    let api = ServeAPI(backend: backend, settings: settings, state: state, metrics: metrics, jobs: jobs, tasks: tasks,
                       endpoints: endpoints)
    var logger = Logger(label: "dlserve-test")
    logger.logLevel = ProcessInfo.processInfo.environment["DLSERVE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return Application(router: api.makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
}

/// Runs `body` against the daemon's router (in process) over a real engine
/// on the model repository at `repository` (no polling), serving `tasks`;
/// the engine is shut down afterwards, also when `body` throws. `endpoints`
/// builds route providers over the backend (a face gallery).
public func withEngineApplication(repository: URL, tasks: [any ServingTask], settings: HTTPSettings = HTTPSettings(),
                                  endpoints: (any ServingBackend) throws -> [any EndpointProvider] = { _ in [] },
                                  _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
    var options = ServingOptions()
    options.pollInterval = nil
    let engine = ServingEngine(repository: repository, options: options)
    try await engine.start()
    let backend = EngineBackend(engine: engine, requestTimeout: .seconds(10), drainTimeout: .seconds(1))
    do {
        try await makeTestApplication(backend: backend, settings: settings, tasks: tasks, endpoints: try endpoints(backend))
            .test(.router, body)
    } catch {
        await engine.shutdown()
        throw error
    }
    await engine.shutdown()
}

/// JSON in and out of test requests.
public enum TestJSON {
    public static func body(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONEncoder().encode(value))
    }

    public static func body(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    public static func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw CocoaError(.coderReadCorrupt)
        }
        return object
    }

    public static let headers: HTTPFields = [.contentType: "application/json"]
}

/// A 28x28 image of one value, as nested rows.
public func uniformPixels(_ value: Float) -> [[Float]] {
    [[Float]](repeating: [Float](repeating: value, count: 28), count: 28)
}

/// The classify answer as tests read it.
public struct ClassifyAnswer: Decodable, Sendable {
    public struct Prediction: Decodable, Sendable {
        public var label: String
        public var index: Int
        public var probability: Float
    }
    public struct Timing: Decodable, Sendable {
        public var queue_ms: Double
        public var inference_ms: Double
        public var total_ms: Double
    }
    public var model: String
    public var version: Int
    public var predictions: [Prediction]
    public var batch_size: Int
    public var timing: Timing
    public var request_id: String
}
