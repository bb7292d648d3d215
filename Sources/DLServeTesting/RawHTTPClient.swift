#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A client on a bare socket, for what HTTP clients hide: sending a request
/// and hanging up before the answer.
public enum RawHTTPClient {
    public struct SocketError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to 127.0.0.1:`port`, writes `request` whole, waits `hangUpAfter`
    /// and closes the socket without reading anything.
    public static func sendAndHangUp(port: Int, request: [UInt8], hangUpAfter: Duration) async throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(description: "connect to port \(port): errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw SocketError(description: "send: errno \(errno)") }
            sent += n
        }
        try await Task.sleep(for: hangUpAfter)
    }

    /// An HTTP/1.1 POST with a body.
    public static func post(_ path: String, contentType: String, body: [UInt8]) -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    }
}
