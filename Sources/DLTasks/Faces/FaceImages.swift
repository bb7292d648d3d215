import DLServing
import Foundation

/// The photos a face request carries, by field name, from any of:
/// - JSON: `{"a": base64, "b": base64}`, `{"image": base64}`,
///   `{"images": [base64, ...]}` (PNG or JPEG, data: URLs accepted), with
///   other fields (a name) left to the caller;
/// - `multipart/form-data`: file parts (their field names, e.g. `a` and `b`,
///   or any name for a list), text parts as fields;
/// - a raw PNG or JPEG body: one photo, field `image`.
package struct FaceImages {
    /// Photos in body order with their field names.
    var photos: [(field: String, input: ImageInput)] = []
    /// Text fields (multipart text parts, JSON strings other than photos).
    var fields: [String: String] = [:]

    static let maxPhotos = 64

    package init(_ body: TaskBody, photoFields: Set<String> = ["a", "b", "image", "images"]) throws {
        switch body.mediaType {
        case "multipart/form-data":
            for part in try MultipartForm(body).parts {
                if part.filename != nil || ClassifyBody.signature(part.bytes) != nil {
                    photos.append((part.name, try ClassifyBody.encodedImage(bytes: part.bytes, field: part.name)))
                } else {
                    fields[part.name] = String(decoding: part.bytes, as: UTF8.self)
                }
            }
        case "application/json":
            try readJSON(body, photoFields: photoFields)
        default:
            if case .image(let mediaType) = try ClassifyBody.kind(body) {
                photos = [("image", .encoded(Data(body.bytes), mediaType: mediaType))]
            } else {
                try readJSON(body, photoFields: photoFields)
            }
        }
        guard photos.count <= Self.maxPhotos else {
            throw ServingError.badRequest("at most \(Self.maxPhotos) photos per request, got \(photos.count)")
        }
    }

    private mutating func readJSON(_ body: TaskBody, photoFields: Set<String>) throws {
        let object = try body.json([String: JSONField].self)
        for key in object.keys.sorted() {
            switch object[key]! {
            case .string(let s) where photoFields.contains(key): photos.append((key, try ClassifyBody.encodedImage(base64: s, field: key)))
            case .strings(let list) where photoFields.contains(key):
                for (i, s) in list.enumerated() { photos.append((key, try ClassifyBody.encodedImage(base64: s, field: "\(key)[\(i)]"))) }
            case .string(let s): fields[key] = s
            case .other(let description): fields[key] = description
            case .strings: throw ServingError.badRequest("'\(key)' must be a string")
            }
        }
        // "a" before "b" whatever the key order of the JSON text.
        photos.sort { $0.field < $1.field }
    }

    /// One photo per field of `names`, in that order; a missing one is a 400 naming it.
    func pair(_ names: [String]) throws -> [ImageInput] {
        try names.map { name in
            guard let p = photos.first(where: { $0.field == name }) else {
                throw ServingError.badRequest("two photos are needed, as '\(names.joined(separator: "' and '"))'; '\(name)' is missing")
            }
            return p.input
        }
    }
}

/// A JSON value as the face bodies read it: a string, a list of strings, or anything else (described).
enum JSONField: Decodable {
    case string(String)
    case strings([String])
    case other(String)

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let l = try? c.decode([String].self) { self = .strings(l); return }
        if let n = try? c.decode(Double.self) { self = .other(n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)); return }
        if let b = try? c.decode(Bool.self) { self = .other(String(b)); return }
        self = .other("")
    }
}
