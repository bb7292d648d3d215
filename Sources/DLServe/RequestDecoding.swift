import DLServing
import Foundation
import Hummingbird

/// Helpers the handlers share to turn a request into typed values, throwing
/// `ServingError`s a client can read.
enum RequestDecoding {
    /// Reads the whole body, refusing more than `limit` bytes (413).
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw ServingError.payloadTooLarge("request body is over the limit of \(limit) bytes")
        }
    }

    /// Decodes JSON, naming the field that is wrong (400 invalid_json).
    static func json<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try TaskBody(bytes: Array(buffer.readableBytesView)).json(T.self)
    }

    /// A path parameter that must be present.
    static func name(_ context: ServeRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), !name.isEmpty else {
            throw ServingError.badRequest("missing model name")
        }
        return name
    }

    /// The optional `{version}` path parameter: a positive integer. The V2
    /// protocol writes versions as strings; a leading "v" is accepted.
    static func version(_ context: ServeRequestContext) throws -> Int? {
        guard let raw = context.parameters.get("version") else { return nil }
        let digits = raw.hasPrefix("v") ? String(raw.dropFirst()) : raw
        guard let version = Int(digits), version > 0 else {
            throw ServingError.badRequest("model version must be a positive integer, got '\(raw)'")
        }
        return version
    }

    /// The media type of the body without parameters, lowercased.
    static func mediaType(_ request: Request) -> String? {
        TaskBody.parseContentType(request.headers[.contentType]).mediaType
    }
}
