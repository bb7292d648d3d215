import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One Server-Sent Event.
struct ServerSentEvent: Equatable {
    var id: String?
    var event: String?
    var data: String = ""
}

/// Incremental parser of a text/event-stream body (WHATWG HTML, "Server-sent
/// events": fields "id", "event", "data"; a blank line dispatches; lines
/// starting with ':' are comments).
struct ServerSentEventParser {
    private var buffer = Data()
    private var current = ServerSentEvent()
    private var hasData = false

    mutating func feed(_ data: Data) -> [ServerSentEvent] {
        buffer.append(data)
        var out: [ServerSentEvent] = []
        while let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[buffer.startIndex..<nl]
            buffer = Data(buffer[(nl + 1)...])
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let text = String(decoding: line, as: UTF8.self)
            if text.isEmpty {
                if hasData || current.event != nil { out.append(current) }
                current = ServerSentEvent(id: current.id)  // the id persists, per the spec
                current.event = nil
                hasData = false
                continue
            }
            if text.hasPrefix(":") { continue }
            let (field, value): (Substring, Substring)
            if let colon = text.firstIndex(of: ":") {
                field = text[..<colon]
                var v = text[text.index(after: colon)...]
                if v.first == " " { v = v.dropFirst() }
                value = v
            } else {
                (field, value) = (Substring(text), "")
            }
            switch field {
            case "id": current.id = String(value)
            case "event": current.event = String(value)
            case "data":
                current.data += (hasData ? "\n" : "") + value
                hasData = true
            default: break
            }
        }
        return out
    }
}

/// Streams a Server-Sent Events response with URLSession (FoundationNetworking
/// has no `bytes(for:)`, so a data delegate feeds the parser as chunks arrive).
final class ServerSentEventSource: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let continuation: AsyncThrowingStream<ServerSentEvent, Error>.Continuation
    private var parser = ServerSentEventParser()
    private var status = 0
    private var errorBody = Data()

    private init(_ continuation: AsyncThrowingStream<ServerSentEvent, Error>.Continuation) {
        self.continuation = continuation
    }

    /// The events of `request`; a non-200 answer throws its error body.
    static func events(_ request: URLRequest) -> AsyncThrowingStream<ServerSentEvent, Error> {
        AsyncThrowingStream { continuation in
            let source = ServerSentEventSource(continuation)
            var r = request
            r.setValue("text/event-stream", forHTTPHeaderField: "Accept")
            r.timeoutInterval = 3600
            let session = URLSession(configuration: .default, delegate: source, delegateQueue: nil)
            let task = session.dataTask(with: r)
            continuation.onTermination = { _ in
                task.cancel()
                session.invalidateAndCancel()
            }
            task.resume()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        status = (response as? HTTPURLResponse)?.statusCode ?? 0
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard status == 200 else { errorBody.append(data); return }
        for e in parser.feed(data) { continuation.yield(e) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if status != 0 && status != 200 {
            continuation.finish(throwing: JobsClient.failure(status, errorBody))
        } else if let error {
            continuation.finish(throwing: JobsClient.Failure(message: "connection lost: \(error.localizedDescription)"))
        } else {
            continuation.finish()
        }
        session.finishTasksAndInvalidate()
    }
}
