import DLNN
import DLTensor
import DLVision
import Foundation

/// A task the daemon serves (sentiment, word vectors, ...): one unit with its
/// request and response types and its pre- and post-processing, built on the
/// serving core without the core knowing it by name. The HTTP layer routes
/// `POST /v1/models/{name}[/versions/{v}]/{route}` to `handle`, with a
/// `ModelRunner` pinned to one version of a model whose config.json `task`
/// is `modelTask`. The executable registers the tasks as a list.
public protocol ServingTask: Sendable {
    associatedtype Request: Sendable
    associatedtype Response: Encodable & Sendable
    /// The route verb, also the OpenAPI tag.
    static var route: String { get }
    /// The config.json `task` of the models it serves.
    static var modelTask: String { get }
    /// Reads a request from an HTTP body. The default reads JSON into a
    /// `Decodable` request; a task that takes other bodies (images) reads them itself.
    static func decode(_ body: TaskBody) throws -> Request
    /// Answers one request. Errors a client can cause are `ServingError.invalidInput`.
    func handle(_ request: Request, _ model: ModelRunner) async throws -> Response
}

extension ServingTask where Request: Decodable {
    public static func decode(_ body: TaskBody) throws -> Request { try body.json(Request.self) }
}

/// A request body as a task sees it, without HTTP types.
public struct TaskBody: Sendable {
    public var bytes: [UInt8]
    /// The Content-Type without parameters, lowercased; nil when absent.
    public var mediaType: String?
    /// Query parameters.
    public var query: [String: String]
    /// The format the answer will be sent in, when the client asked for one
    /// of the response's `AlternativeRepresentable` formats (`svg`); nil for JSON.
    public var responseFormat: String?
    /// The Content-Type's parameters (`boundary` of multipart/form-data), names lowercased.
    public var mediaTypeParameters: [String: String]

    public init(bytes: [UInt8], mediaType: String? = nil, query: [String: String] = [:], responseFormat: String? = nil,
                mediaTypeParameters: [String: String] = [:]) {
        self.bytes = bytes
        self.mediaType = mediaType
        self.query = query
        self.responseFormat = responseFormat
        self.mediaTypeParameters = mediaTypeParameters
    }

    /// A full Content-Type header value split into the media type (lowercased) and its parameters.
    public static func parseContentType(_ value: String?) -> (mediaType: String?, parameters: [String: String]) {
        guard let value else { return (nil, [:]) }
        // The common case, a bare lowercase media type ("image/png"), without Foundation's trimming.
        if !value.isEmpty, value.utf8.allSatisfy({ $0 > 0x20 && $0 != UInt8(ascii: ";") && !(0x41...0x5A).contains($0) }) {
            return (value, [:])
        }
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        var parameters: [String: String] = [:]
        for p in parts.dropFirst() {
            guard let eq = p.firstIndex(of: "=") else { continue }
            var v = String(p[p.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            parameters[p[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = v
        }
        return (parts.first.map { $0.lowercased() }.flatMap { $0.isEmpty ? nil : $0 }, parameters)
    }

    /// Decodes a JSON body, naming the field that is wrong (invalid_json).
    /// Errors the type's own decoding throws (`ServingError`) pass through.
    public func json<T: Decodable>(_ type: T.Type) throws -> T {
        guard !bytes.isEmpty else { throw ServingError.invalidJSON("the request body is empty; expected a JSON object") }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ServingError.invalidJSON("the request body is not valid UTF-8")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ServingError.invalidJSON("malformed request body: \(ServingError.describe(error))")
        }
    }
}

/// A task response that can also be sent as something other than JSON (an
/// SVG picture of it). The HTTP layer chooses the format from `?format=NAME`
/// or the Accept header, tells the task before it answers
/// (`TaskBody.responseFormat`), and sends `rendered(as:)` with the format's
/// media type; JSON stays the default.
public protocol AlternativeRepresentable {
    /// Format names and their media types: `["svg": "image/svg+xml"]`.
    static var alternativeFormats: [String: String] { get }
    /// The body in `format` (one of `alternativeFormats`). Throws
    /// `ServingError` for an answer that cannot be shown so.
    func rendered(as format: String) throws -> [UInt8]
}

/// One version of one model, pinned for the whole of a request (a task that
/// calls the model several times stays on the version it started on, across
/// hot reloads), with the request's deadline. Its calls go through the
/// scheduler like any inference (batched with other requests, padded by
/// length bucket for sequences) but are not counted as requests.
public struct ModelRunner: Sendable {
    let engine: ServingEngine
    let instance: ServedVersion
    public let deadline: ContinuousClock.Instant
    public let requestID: String?

    public var name: String { instance.name }
    public var version: Int { instance.version }
    public var config: ServingConfig { instance.config }
    /// Files the version carries (vocabulary, tokenizer).
    public var resources: VersionResources { instance.loaded.resources }
    /// Input and output shapes without batch; -1 for a variable dimension.
    public var inputShape: [Int] { instance.model.inputShape }
    public var outputShape: [Int] { instance.model.outputShape }

    /// A named weight of the version's model ("embedding.weight"), for tasks
    /// that read weights directly (word-vector lookups); nil when the model
    /// has no such parameter or is not a graph model.
    public func parameter(_ name: String) -> Tensor? {
        guard let graph = instance.model as? GraphModel else { return nil }
        return graph.stateDict.first { $0.name == name }?.tensor
    }

    /// x [N, ...inputShape] (or one example without N) -> the model's output [N, ...].
    public func run(_ x: Tensor) async throws -> Tensor {
        try await infer(x).output
    }

    /// `run` with the batch's timings (queue, compute, batch size).
    public func infer(_ x: Tensor) async throws -> InferenceResult {
        try await engine.run(instance, input: x, deadline: deadline, requestID: requestID)
    }

    /// An image as this version's input (decoded, resized and normalized by
    /// its `preprocessing`); throws invalidInput for a model without one,
    /// imageTooLarge, unsupportedMediaType.
    public func tensor(for image: ImageInput) throws -> Tensor {
        try engine.tensor(for: image, instance: instance)
    }

    /// An image input as decoded pixels (the daemon's decoder limits apply).
    public func image(for input: ImageInput) throws -> DLVision.Image {
        try engine.image(for: input)
    }
}

extension ServingEngine {
    /// Runs a task's request against a model (its serving version, or
    /// `version`), counted as one request in the metrics whatever the number
    /// of model calls.
    public func perform<T: ServingTask>(_ task: T, model: String, version: Int? = nil, request: T.Request,
                                        deadline: ContinuousClock.Instant? = nil, requestID: String? = nil) async throws -> T.Response {
        let start = ContinuousClock.now
        do {
            let instance = try manager.resolve(model, version: version)
            guard instance.config.task == T.modelTask else {
                throw ServingError.unsupportedTask(model: model, task: instance.config.task, operation: T.route)
            }
            let runner = ModelRunner(engine: self, instance: instance,
                                     deadline: deadline ?? start + (instance.config.timeout ?? options.defaultTimeout),
                                     requestID: requestID)
            let response = try await task.handle(request, runner)
            record(model, start: start, error: nil, requestID: requestID)
            return response
        } catch {
            let e = Self.serving(error)
            record(model, start: start, error: e, requestID: requestID)
            throw e
        }
    }
}
