import DLNN
import DLServing
import DLTensor
import Foundation

/// `POST /v1/models/{name}[/versions/{v}]/embed`: the embedding of one photo
/// or several (`FaceImages` bodies), each resized and normalised as the
/// model's config says, run as one batch.
public struct FaceEmbedding: ServingTask {
    public static let route = "embed"
    public static let modelTask = "embedding"

    public init() {}

    public struct Request: Sendable {
        public var images: [ImageInput]
        public init(images: [ImageInput]) { self.images = images }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        public var dim: Int
        public var metric: String
        public var embeddings: [[Float]]
    }

    public static func decode(_ body: TaskBody) throws -> Request {
        let read = try FaceImages(body)
        guard !read.photos.isEmpty else {
            throw ServingError.badRequest("no photo: send a PNG or JPEG body, JSON {\"image\": base64} or {\"images\": [...]}, or multipart files")
        }
        return Request(images: read.photos.map(\.input))
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let (vectors, file) = try await Self.embed(request.images, model)
        return Response(model: model.name, version: model.version, dim: file.dim, metric: file.metric.rawValue, embeddings: vectors)
    }

    /// The photos' embeddings (one batch through the version) and its verification file.
    static func embed(_ images: [ImageInput], _ model: ModelRunner) async throws -> ([[Float]], VerificationFile) {
        guard let file = model.resources.verification else {
            throw ServingError.invalidInput("model '\(model.name)' version \(model.version) has no verification.json")
        }
        let batch = Tensor.concat(try images.map { try model.tensor(for: $0) }, axis: 0)
        return (try await file.embed(batch) { try await model.run($0) }, file)
    }
}

/// `POST /v1/models/{name}[/versions/{v}]/verify`: whether two photos show
/// one person: their embeddings' distance (the version's metric) against
/// its tau. Photos as JSON `{"a": base64, "b": base64}` or multipart files
/// `a` and `b` (any two files, in order, when not named so).
public struct FaceVerification: ServingTask {
    public static let route = "verify"
    public static let modelTask = "embedding"

    public init() {}

    public struct Request: Sendable {
        public var a: ImageInput
        public var b: ImageInput
        public init(a: ImageInput, b: ImageInput) { (self.a, self.b) = (a, b) }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        public var distance: Float
        public var tau: Double
        public var same: Bool
        public var metric: String
    }

    public static func decode(_ body: TaskBody) throws -> Request {
        let read = try FaceImages(body, photoFields: ["a", "b"])
        let named = read.photos.filter { $0.field == "a" || $0.field == "b" }
        if named.count == 2 {
            let p = try read.pair(["a", "b"])
            return Request(a: p[0], b: p[1])
        }
        guard read.photos.count == 2 else {
            throw ServingError.badRequest("verify needs exactly two photos ('a' and 'b'), got \(read.photos.count)")
        }
        return Request(a: read.photos[0].input, b: read.photos[1].input)
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let (v, file) = try await FaceEmbedding.embed([request.a, request.b], model)
        let d = file.distance(v[0], v[1])
        return Response(model: model.name, version: model.version, distance: d, tau: file.tau, same: Double(d) < file.tau,
                        metric: file.metric.rawValue)
    }
}
