import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its parts: each part's
/// field name, file name and Content-Type from its headers, and its bytes.
/// Malformed bodies are `ServingError.badRequest` naming the problem.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var bytes: [UInt8]
    }

    public var parts: [Part]

    /// Splits `body` at the `boundary` of its Content-Type.
    public init(_ body: TaskBody) throws {
        guard let boundary = body.mediaTypeParameters["boundary"], !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw ServingError.badRequest("multipart/form-data needs a boundary parameter in its Content-Type")
        }
        parts = try Self.split(body.bytes, boundary: Array(("--" + boundary).utf8))
    }

    static func split(_ b: [UInt8], boundary: [UInt8]) throws -> [Part] {
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard !needle.isEmpty, b.count >= needle.count, start <= b.count - needle.count else { return nil }
            var i = start
            while i <= b.count - needle.count {
                if b[i] == needle[0], b[i..<(i + needle.count)].elementsEqual(needle) { return i }
                i += 1
            }
            return nil
        }
        guard var at = find(boundary, from: 0) else {
            throw ServingError.badRequest("multipart body: the boundary never occurs")
        }
        let crlf: [UInt8] = [13, 10], delimiter = crlf + boundary
        var parts: [Part] = []
        while true {
            var i = at + boundary.count
            if b.count >= i + 2, b[i] == 45, b[i + 1] == 45 { break }  // "--": the closing delimiter
            guard b.count >= i + 2, b[i] == 13, b[i + 1] == 10 else {
                throw ServingError.badRequest("multipart body: a boundary line is not followed by CRLF")
            }
            i += 2
            guard let headerEnd = find(crlf + crlf, from: i - 2) else {
                throw ServingError.badRequest("multipart body: a part's headers never end")
            }
            let headers = String(decoding: b[i..<max(i, headerEnd)], as: UTF8.self)
            // The delimiter ends a part only when "--" (the last) or CRLF follows it.
            var from = headerEnd + 4, found: Int?
            while let candidate = find(delimiter, from: from) {
                let after = candidate + delimiter.count
                if b.count >= after + 2, (b[after] == 45 && b[after + 1] == 45) || (b[after] == 13 && b[after + 1] == 10) {
                    found = candidate
                    break
                }
                from = candidate + 1
            }
            guard let next = found else {
                throw ServingError.badRequest("multipart body: a part is not closed by the boundary")
            }
            parts.append(try part(headers: headers, bytes: Array(b[(headerEnd + 4)..<next])))
            at = next + 2
            guard parts.count <= 64 else { throw ServingError.badRequest("multipart body: more than 64 parts") }
        }
        return parts
    }

    static func part(headers: String, bytes: [UInt8]) throws -> Part {
        var name: String?, filename: String?, contentType: String?
        for line in headers.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if key == "content-type" { contentType = TaskBody.parseContentType(value).mediaType }
            if key == "content-disposition" {
                let p = TaskBody.parseContentType(value).parameters
                (name, filename) = (p["name"], p["filename"])
            }
        }
        guard let name, !name.isEmpty else {
            throw ServingError.badRequest("multipart body: a part has no Content-Disposition name")
        }
        return Part(name: name, filename: filename, contentType: contentType, bytes: bytes)
    }
}
