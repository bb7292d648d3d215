import DLJobs
import DLServing
import Foundation
import Hummingbird

/// The one error shape of every endpoint: `{"error": "message", "code": "machine_code"}`
/// (a string `error`, as the Open Inference Protocol requires).
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var code: String

    public init(error: String, code: String) {
        self.error = error
        self.code = code
    }
}

/// An error ready to be written: status, machine code, message, extra headers.
/// `init(mapping:)` is the ONE place where errors become status codes.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Maps any error thrown below the HTTP layer to its response.
    public init(mapping error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as ServingError:
            self = Self.map(error)
        case let error as HTTPError:
            self = Self.map(error)
        case let error as JobError:
            self = Self.map(error)
        case let error as JobTransitionError:
            self.init(.conflict, code: "invalid_job_state", error.description)
        case let error as DecodingError:
            self.init(.badRequest, code: "invalid_json", "malformed request body: \(Self.describe(error))")
        case is CancellationError:
            self.init(.serviceUnavailable, code: "cancelled", "the request was cancelled")
        default:
            self.init(.internalServerError, code: "internal", "internal error: \(error)")
        }
    }

    static func map(_ error: JobError) -> APIError {
        switch error {
        case .invalidRecipe: return APIError(.badRequest, code: error.code, error.description)
        case .notFound: return APIError(.notFound, code: error.code, error.description)
        case .queueFull: return APIError(.tooManyRequests, code: error.code, error.description, retryAfterSeconds: 30)
        case .unavailable: return APIError(.serviceUnavailable, code: error.code, error.description)
        case .storage: return APIError(.internalServerError, code: error.code, error.description)
        }
    }

    /// The serving engine's errors keep their machine codes and suggested statuses.
    static func map(_ error: ServingError) -> APIError {
        let status = error.httpStatus == 499
            ? HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")
            : HTTPResponse.Status(code: error.httpStatus)
        return APIError(status, code: error.code, error.message, retryAfterSeconds: error.retryAfterSeconds.map { max(1, $0) })
    }

    static func map(_ error: HTTPError) -> APIError {
        let message = error.body ?? error.status.reasonPhrase.lowercased()
        switch error.status {
        case .notFound:
            return APIError(.notFound, code: "not_found", error.body ?? "no such route")
        case .contentTooLarge:
            return APIError(.contentTooLarge, code: "payload_too_large", error.body ?? "request body too large")
        case .methodNotAllowed:
            return APIError(.methodNotAllowed, code: "method_not_allowed", message)
        case .unauthorized:
            return APIError(.unauthorized, code: "unauthorized", message)
        case .badRequest:
            return APIError(.badRequest, code: "bad_request", message)
        default:
            return APIError(error.status, code: "http_\(error.status.code)", message)
        }
    }

    static func describe(_ error: DecodingError) -> String { ServingError.describe(error) }

    /// The JSON response for this error.
    public func response() -> Response {
        let body = ErrorBody(error: message, code: code)
        let data = (try? JSONEncoder().encode(body)) ?? Data("{\"error\":\"internal\",\"code\":\"internal\"}".utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfterSeconds {
            headers[.retryAfter] = String(retryAfterSeconds)
        }
        if status == .unauthorized {
            headers[.wwwAuthenticate] = "Bearer realm=\"dlserve\""
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
