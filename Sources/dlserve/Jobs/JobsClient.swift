import DLJobs
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client for the daemon's job API (/v1/jobs), for `dlserve jobs`.
struct JobsClient: Sendable {
    let base: URL
    let token: String?

    /// An error answer of the daemon ({"error", "code"}) or a transport failure.
    struct Failure: Error, CustomStringConvertible {
        var status: Int?
        var code: String?
        var message: String

        var description: String {
            guard let status else { return message }
            return "\(message) (HTTP \(status)\(code.map { ", \($0)" } ?? ""))"
        }
    }

    func url(_ path: String, query: [URLQueryItem] = []) -> URL {
        var c = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { c.queryItems = query }
        return c.url!
    }

    func makeRequest(_ method: String, _ path: String, query: [URLQueryItem] = [], body: Data? = nil) -> URLRequest {
        var r = URLRequest(url: url(path, query: query))
        r.httpMethod = method
        r.timeoutInterval = 60
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            r.httpBody = body
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return r
    }

    /// Sends a request; a non-2xx answer throws its {"error", "code"} as a `Failure`.
    func send(_ method: String, _ path: String, query: [URLQueryItem] = [], body: Data? = nil) async throws
        -> (Data, HTTPURLResponse)
    {
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: makeRequest(method, path, query: query, body: body))
        } catch {
            throw Failure(message: "cannot reach the daemon at \(base.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw Failure(message: "not an HTTP response") }
        guard (200..<300).contains(http.statusCode) else { throw Self.failure(http.statusCode, data) }
        return (data, http)
    }

    func decode<T: Decodable>(_ type: T.Type, _ method: String, _ path: String, query: [URLQueryItem] = [],
                              body: Data? = nil) async throws -> T {
        let (data, _) = try await send(method, path, query: query, body: body)
        do {
            return try JobJSON.decoder.decode(T.self, from: data)
        } catch {
            throw Failure(message: "unexpected answer from \(path): \(error)")
        }
    }

    static func failure(_ status: Int, _ data: Data) -> Failure {
        struct Body: Decodable { var error: String; var code: String? }
        if let b = try? JSONDecoder().decode(Body.self, from: data) {
            return Failure(status: status, code: b.code, message: b.error)
        }
        let text = String(decoding: data.prefix(500), as: UTF8.self)
        return Failure(status: status, message: text.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : text)
    }
}
