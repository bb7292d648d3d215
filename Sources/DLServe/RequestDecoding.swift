import Foundation
import Hummingbird

/// Helpers the handlers share to turn a request into typed values, throwing
/// `ServeFailure`s a client can read.
enum RequestDecoding {
    /// Reads the whole body, refusing more than `limit` bytes (413).
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw ServeFailure.payloadTooLarge("request body is over the limit of \(limit) bytes")
        }
    }

    /// Decodes JSON, naming the field that is wrong (400 invalid_json).
    static func json<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes > 0 else {
            throw APIError(.badRequest, code: "invalid_json", "the request body is empty; expected a JSON object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(.badRequest, code: "invalid_json", "malformed request body: \(APIError.describe(error))")
        }
    }

    /// A path parameter that must be present.
    static func name(_ context: ServeRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), !name.isEmpty else {
            throw ServeFailure.badRequest("missing model name")
        }
        return name
    }

    /// The optional `{version}` path parameter: a positive integer. The V2
    /// protocol writes versions as strings; a leading "v" is accepted.
    static func version(_ context: ServeRequestContext) throws -> Int? {
        guard let raw = context.parameters.get("version") else { return nil }
        let digits = raw.hasPrefix("v") ? String(raw.dropFirst()) : raw
        guard let version = Int(digits), version > 0 else {
            throw ServeFailure.badRequest("model version must be a positive integer, got '\(raw)'")
        }
        return version
    }

    /// The media type of the body without parameters, lowercased.
    static func mediaType(_ request: Request) -> String? {
        guard let value = request.headers[.contentType] else { return nil }
        return value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }
}

/// A JSON number or a nested array of them, flattened row-major with its shape
/// (so `[[1,2],[3,4]]` is data [1,2,3,4], shape [2,2]). Ragged arrays are refused.
struct NestedNumbers: Decodable {
    var data: [Float]
    var shape: [Int]

    init(from decoder: Decoder) throws {
        var data: [Float] = []
        let shape = try Self.read(decoder, into: &data)
        self.data = data
        self.shape = shape ?? []
    }

    /// Appends the numbers below `decoder` to `data` and returns their shape
    /// (nil for a scalar).
    private static func read(_ decoder: Decoder, into data: inout [Float]) throws -> [Int]? {
        if let single = try? decoder.singleValueContainer(), let value = try? single.decode(Float.self) {
            data.append(value)
            return nil
        }
        var container = try decoder.unkeyedContainer()
        var childShape: [Int]?? = .none
        var count = 0
        while !container.isAtEnd {
            // Fast path for a flat row of numbers.
            if let value = try? container.decode(Float.self) {
                if case .some(let shape) = childShape, shape != nil {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "ragged array: mixed numbers and arrays")
                }
                childShape = .some(nil)
                data.append(value)
                count += 1
                continue
            }
            let nested = try container.superDecoder()
            let shape = try read(nested, into: &data)
            if case .some(let previous) = childShape, previous != shape {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "ragged array: rows of different shapes")
            }
            childShape = .some(shape)
            count += 1
        }
        let inner: [Int] = (childShape ?? nil) ?? []
        return [count] + inner
    }
}
