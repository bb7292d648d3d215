import Foundation
import Hummingbird
import Logging

/// The outermost middleware of every route (unknown routes included):
/// - takes X-Request-ID from the request (or makes one), puts it on the
///   logger's metadata (`request_id`) and on the response;
/// - refuses a declared Content-Length above the body limit (413) before the
///   body is read;
/// - turns every thrown error into the one JSON error shape (`APIError`);
/// - writes the access log line and the request metrics.
public struct RequestMiddleware: RouterMiddleware {
    public typealias Context = ServeRequestContext

    let maxBodyBytes: Int
    let metrics: ServeMetrics?

    public init(maxBodyBytes: Int, metrics: ServeMetrics?) {
        self.maxBodyBytes = maxBodyBytes
        self.metrics = metrics
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let requestID = Self.requestID(from: request)
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        context.logger[metadataKey: "hb.request.id"] = nil
        let start = ContinuousClock.now

        var response: Response
        do {
            if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
                throw APIError(
                    .contentTooLarge, code: "payload_too_large",
                    "request body of \(length) bytes is over the limit of \(maxBodyBytes) bytes")
            }
            response = try await next(request, context)
        } catch {
            let apiError = APIError(mapping: error)
            if apiError.status == .serviceUnavailable || apiError.status == .gatewayTimeout {
                context.logger.warning("request refused", metadata: ["error": "\(error)", "code": "\(apiError.code)"])
            } else if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)", "code": "\(apiError.code)"])
            } else {
                context.logger.debug("request refused", metadata: ["error": "\(error)", "code": "\(apiError.code)"])
            }
            response = apiError.response()
        }
        response.headers[.init("X-Request-ID")!] = requestID

        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let route = context.endpointPath ?? "NotFound"
        let model = context.modelLabel.value
        context.logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code)",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "route": .string(route),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(Self.milliseconds(seconds)),
                "model": model.map { .string($0) } ?? "-",
            ])
        metrics?.recordRequest(route: route, method: request.method.rawValue, status: response.status.code, model: model, seconds: seconds)
        return response
    }

    /// Seconds as milliseconds with three decimals ("12.345"), without
    /// Foundation's printf-style formatting.
    static func milliseconds(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return String(seconds * 1000) }
        let micros = Int((seconds * 1e6).rounded())
        let fraction = String(micros % 1000)
        return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// A client's X-Request-ID if it is printable and short, else a new one.
    static func requestID(from request: Request) -> String {
        if let given = request.headers[.init("X-Request-ID")!], !given.isEmpty, given.utf8.count <= 128,
            given.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f })
        {
            return given
        }
        return RequestID.make()
    }
}

/// Requires `Authorization: Bearer <token>` on the routes it guards (the
/// routes that change state). With no token configured it lets every request through.
public struct BearerTokenMiddleware: RouterMiddleware {
    public typealias Context = ServeRequestContext
    let token: String?

    public init(token: String?) {
        self.token = token
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let token else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, code: "unauthorized", "this endpoint requires a bearer token")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(token.utf8))
        else {
            throw APIError(.unauthorized, code: "unauthorized", "invalid bearer token")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit so the time taken does not reveal the token.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
