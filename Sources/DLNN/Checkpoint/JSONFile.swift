import Foundation

/// Reading and writing the small JSON files of a model repository (model.json,
/// config.json, metrics.json, recipe.json) with size limits and error messages
/// that name the field, e.g. "missing field 'layers[2].name'".
public enum JSONFile {
    /// A file that is not the expected JSON. `message` names the field; callers
    /// wrap it in their own error type with the file's role.
    public struct DecodeError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Reads `url` (at most `maxBytes`) and decodes it. Throws `ModelError.io` when
    /// the file cannot be read or is too large, `DecodeError` when its content is wrong.
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL, maxBytes: Int = 16 << 20) throws -> T {
        try decode(type, from: read(url, maxBytes: maxBytes))
    }

    /// Decodes bytes, mapping `DecodingError` to a `DecodeError` that names the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let e as DecodingError {
            throw DecodeError(message: describe(e))
        }
    }

    /// Reads a whole file of at most `maxBytes`.
    public static func read(_ url: URL, maxBytes: Int) throws -> Data {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        } catch {
            throw ModelError.io("cannot read \(url.path): \(FileManager.default.fileExists(atPath: url.path) ? "unreadable" : "no such file")")
        }
        if let size = attributes[.size] as? NSNumber, size.int64Value > Int64(maxBytes) {
            throw ModelError.io("\(url.path) is \(size.int64Value) bytes, more than the limit of \(maxBytes)")
        }
        do {
            let data = try Data(contentsOf: url)
            guard data.count <= maxBytes else { throw ModelError.io("\(url.path) is more than the limit of \(maxBytes) bytes") }
            return data
        } catch let e as ModelError {
            throw e
        } catch {
            throw ModelError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// Pretty-printed JSON with sorted keys, ending in a newline (diffable, stable).
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Encodes and writes atomically (`AtomicFile.write`).
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try AtomicFile.write(encode(value), to: url)
    }

    /// "missing field 'layers[2].name'", "field 'input.shape' must be a list", ...
    public static func describe(_ error: DecodingError) -> String {
        func path(_ p: [CodingKey], _ last: CodingKey? = nil) -> String {
            var s = ""
            for k in p + (last.map { [$0] } ?? []) {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return "missing field '\(path(ctx.codingPath, key))'"
        case .typeMismatch(let type, let ctx):
            return ctx.codingPath.isEmpty ? "the document must be \(kind(type))" : "field '\(path(ctx.codingPath))' must be \(kind(type))"
        case .valueNotFound(let type, let ctx):
            return "field '\(path(ctx.codingPath))' must be \(kind(type)), not null"
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty {
                let detail = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return "not valid JSON" + (detail.map { ": \($0)" } ?? "")
            }
            return "field '\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func kind(_ type: Any.Type) -> String {
        let n = String(describing: type)
        if n.hasPrefix("Array") || n.hasPrefix("[") { return "a list" }
        if n.hasPrefix("Dictionary") || n.hasPrefix("KeyedDecodingContainer") { return "an object" }
        switch n {
        case "Int", "Int64", "Int32", "UInt64", "UInt32", "UInt": return "an integer"
        case "Double", "Float": return "a number"
        case "String": return "a string"
        case "Bool": return "true or false"
        default: return "a \(n)"
        }
    }
}
