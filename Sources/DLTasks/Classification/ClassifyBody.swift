import DLServing
import Foundation

/// The bodies classify reads: raw PNG or JPEG bytes (`Content-Type:
/// image/png` or `image/jpeg`; a body whose first bytes are a PNG or JPEG
/// signature is accepted under `application/octet-stream` or curl's default
/// form type too), or JSON with exactly one of `{"image": base64}`,
/// `{"pixels": [[...]]}`, `{"inputs": [...]}` and an optional `top_k`.
/// `?top_k=` (default 5, 1...1000) works for every body.
enum ClassifyBody {
    static func request(from body: TaskBody) throws -> Classification.Request {
        var topK = try queryTopK(body.query)
        switch try kind(body) {
        case .image(let mediaType):
            return .init(input: .encoded(Data(body.bytes), mediaType: mediaType), topK: topK)
        case .json:
            let json = try body.json(JSONBody.self)
            if let k = json.topK {
                guard (1...Classification.maxTopK).contains(k) else {
                    throw ServingError.badRequest("top_k must be between 1 and \(Classification.maxTopK), got \(k)")
                }
                topK = k
            }
            return .init(input: try json.input(), topK: topK)
        }
    }

    static func queryTopK(_ query: [String: String]) throws -> Int {
        guard let raw = query["top_k"] else { return Classification.defaultTopK }
        guard let k = Int(raw), (1...Classification.maxTopK).contains(k) else {
            throw ServingError.badRequest("top_k must be an integer between 1 and \(Classification.maxTopK), got '\(raw)'")
        }
        return k
    }

    enum Kind: Equatable {
        case image(String)
        case json
    }

    /// How to read the body: from its media type (and, for untyped binary
    /// bodies, from its first bytes).
    static func kind(_ body: TaskBody) throws -> Kind {
        switch body.mediaType {
        case "image/png", "image/jpeg":
            return .image(body.mediaType!)
        case "image/jpg", "image/pjpeg":
            return .image("image/jpeg")
        case "application/json":
            return .json
        case nil, "application/octet-stream", "application/x-www-form-urlencoded":
            if let sniffed = signature(body.bytes) { return .image(sniffed) }
            if body.bytes.first(where: { !(" \n\r\t".utf8.contains($0)) }) == UInt8(ascii: "{") { return .json }
            throw ServingError.unsupportedMediaType(
                "send a PNG or JPEG with Content-Type image/png or image/jpeg, or JSON with Content-Type application/json")
        default:
            throw ServingError.unsupportedMediaType(
                "unsupported Content-Type '\(body.mediaType!)'; use image/png, image/jpeg or application/json")
        }
    }

    /// A base64 PNG or JPEG (a data: URL works too) from JSON field `field`;
    /// bad base64 is a 400, other bytes a 415, each naming the field.
    static func encodedImage(base64 s: String, field: String) throws -> ImageInput {
        let cleaned = s.hasPrefix("data:") ? String(s.drop(while: { $0 != "," }).dropFirst()) : s
        guard let data = Data(base64Encoded: cleaned, options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw ServingError.badRequest("'\(field)' is not valid base64")
        }
        return try encodedImage(bytes: [UInt8](data), field: field)
    }

    /// PNG or JPEG bytes, recognised by their signature; anything else is a 415 naming `field`.
    static func encodedImage(bytes: [UInt8], field: String) throws -> ImageInput {
        guard let mediaType = signature(bytes) else {
            throw ServingError.unsupportedMediaType("'\(field)' must be a PNG or JPEG image")
        }
        return .encoded(Data(bytes), mediaType: mediaType)
    }

    /// "image/png" or "image/jpeg" from the first bytes, or nil.
    static func signature(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        return nil
    }

    /// The JSON body: exactly one of `image`, `pixels`, `inputs`.
    struct JSONBody: Decodable {
        var image: String?
        var pixels: NestedNumbers?
        var inputs: NestedNumbers?
        var topK: Int?

        enum CodingKeys: String, CodingKey {
            case image, pixels, inputs
            case topK = "top_k"
        }

        func input() throws -> ImageInput {
            let given = [image != nil, pixels != nil, inputs != nil].filter { $0 }.count
            guard given == 1 else {
                throw ServingError.badRequest("give exactly one of 'image' (base64 PNG/JPEG), 'pixels' or 'inputs'")
            }
            if let image { return try ClassifyBody.encodedImage(base64: image, field: "image") }
            let numbers = (pixels ?? inputs)!
            guard !numbers.data.isEmpty else { throw ServingError.badRequest("the pixel array is empty") }
            return .pixels(numbers.data, shape: numbers.shape)
        }
    }
}
