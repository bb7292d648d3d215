import Foundation
import Hummingbird

/// `POST /v1/models/{name}[/versions/{version}]/classify`
///
/// Bodies: raw PNG or JPEG bytes (`Content-Type: image/png` or `image/jpeg`;
/// a body whose first bytes are a PNG or JPEG signature is accepted under
/// `application/octet-stream` or curl's default form type too), or JSON with
/// one of `{"image": base64}`, `{"pixels": [[...]]}`, `{"inputs": [...]}`.
/// `?top_k=` (default 5, 1...1000) limits the answer.
extension ServeAPI {
    func addClassifyRoutes(to router: Router<ServeRequestContext>) {
        router.post("/v1/models/:name/classify") { request, context in
            try await self.classify(request, context)
        }
        router.post("/v1/models/:name/versions/:version/classify") { request, context in
            try await self.classify(request, context)
        }
    }

    func classify(_ request: Request, _ context: ServeRequestContext) async throws -> ClassifyResponse {
        let name = try RequestDecoding.name(context)
        context.modelLabel.value = name
        let version = try RequestDecoding.version(context)
        var topK = try Self.topK(request)
        let body = try await RequestDecoding.body(request, limit: settings.maxBodyBytes)
        let input: ClassifyInput
        switch try Self.bodyKind(request, body) {
        case .image(let mediaType):
            input = .encodedImage(Array(body.readableBytesView), mediaType: mediaType)
        case .json:
            let json = try RequestDecoding.json(ClassifyJSONBody.self, from: body)
            input = try json.input()
            if let k = json.topK {
                guard (1...1000).contains(k) else { throw ServeFailure.badRequest("top_k must be between 1 and 1000, got \(k)") }
                topK = k
            }
        }
        let started = ContinuousClock.now
        let request = ClassifyRequest(model: name, version: version, input: input, topK: topK, requestID: context.requestID)
        let result = try await withDeadline(context) {
            try await self.backend.classify(request)
        }
        let total = ContinuousClock.now - started
        return ClassifyResponse(result: result, requestID: context.requestID, totalSeconds: total.seconds)
    }

    static func topK(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters.get("top_k") else { return 5 }
        guard let k = Int(raw), (1...1000).contains(k) else {
            throw ServeFailure.badRequest("top_k must be an integer between 1 and 1000, got '\(raw)'")
        }
        return k
    }

    enum BodyKind: Equatable {
        case image(String)
        case json
    }

    /// Decides how to read the body from its media type (and, for untyped
    /// binary bodies, from its first bytes).
    static func bodyKind(_ request: Request, _ body: ByteBuffer) throws -> BodyKind {
        let mediaType = RequestDecoding.mediaType(request)
        switch mediaType {
        case "image/png", "image/jpeg":
            return .image(mediaType!)
        case "image/jpg", "image/pjpeg":
            return .image("image/jpeg")
        case "application/json":
            return .json
        case nil, "application/octet-stream", "application/x-www-form-urlencoded":
            if let sniffed = ImageSignature.mediaType(of: body) { return .image(sniffed) }
            if body.readableBytesView.first(where: { !$0.isWhitespace }) == UInt8(ascii: "{") { return .json }
            throw ServeFailure.unsupportedMediaType(
                "send a PNG or JPEG with Content-Type image/png or image/jpeg, or JSON with Content-Type application/json")
        default:
            throw ServeFailure.unsupportedMediaType(
                "unsupported Content-Type '\(mediaType!)'; use image/png, image/jpeg or application/json")
        }
    }

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
            case .clientClosed?: throw ServeFailure.clientClosed
            case .timedOut?, nil: throw ServeFailure.timeout("the request did not finish within \(timeout.seconds) s")
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

extension UInt8 {
    var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// PNG and JPEG signatures.
enum ImageSignature {
    static func mediaType(of buffer: ByteBuffer) -> String? {
        let bytes = buffer.readableBytesView
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        return nil
    }
}

/// The JSON body of classify: exactly one of `image`, `pixels`, `inputs`.
struct ClassifyJSONBody: Decodable {
    var image: String?
    var pixels: NestedNumbers?
    var inputs: NestedNumbers?
    var topK: Int?

    enum CodingKeys: String, CodingKey {
        case image, pixels, inputs
        case topK = "top_k"
    }

    func input() throws -> ClassifyInput {
        let given = [image != nil, pixels != nil, inputs != nil].filter { $0 }.count
        guard given == 1 else {
            throw ServeFailure.badRequest("give exactly one of 'image' (base64 PNG/JPEG), 'pixels' or 'inputs'")
        }
        if let image {
            let cleaned = image.hasPrefix("data:") ? String(image.drop(while: { $0 != "," }).dropFirst()) : image
            guard let data = Data(base64Encoded: cleaned, options: .ignoreUnknownCharacters), !data.isEmpty else {
                throw ServeFailure.badRequest("'image' is not valid base64")
            }
            let bytes = [UInt8](data)
            guard let mediaType = ImageSignature.mediaType(of: ByteBuffer(bytes: bytes)) else {
                throw ServeFailure.unsupportedMediaType("'image' must be a base64 PNG or JPEG")
            }
            return .encodedImage(bytes, mediaType: mediaType)
        }
        let numbers = (pixels ?? inputs)!
        guard !numbers.data.isEmpty else { throw ServeFailure.badRequest("the pixel array is empty") }
        return .pixels(numbers.data, shape: numbers.shape)
    }
}

struct ClassifyResponse: ResponseEncodable {
    struct Timing: Encodable {
        var queueMs: Double
        var inferenceMs: Double
        var totalMs: Double
        enum CodingKeys: String, CodingKey {
            case queueMs = "queue_ms"
            case inferenceMs = "inference_ms"
            case totalMs = "total_ms"
        }
    }

    var model: String
    var version: Int
    var predictions: [LabelScore]
    var batchSize: Int
    var timing: Timing
    var requestID: String

    init(result: ClassifyResult, requestID: String, totalSeconds: Double) {
        model = result.model
        version = result.version
        predictions = result.predictions
        batchSize = result.batchSize
        timing = Timing(queueMs: result.queueSeconds * 1000, inferenceMs: result.inferenceSeconds * 1000, totalMs: totalSeconds * 1000)
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case model, version, predictions, timing
        case batchSize = "batch_size"
        case requestID = "request_id"
    }
}
