import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// Stalled and idle connections are closed on time (slowloris), normal
/// requests keep their latency meanwhile, and past `max_connections` new
/// connections are closed at once; `/metrics` counts each.
final class ConnectionLimitsLiveTests: XCTestCase {
    private func start(_ configure: (inout ServeSettings) -> Void) async throws -> LiveDaemon {
        let backend = FakeBackend()
        try await backend.start()
        var settings = LiveDaemon.settings()
        configure(&settings)
        return try await LiveDaemon.start(backend: backend, settings: settings)
    }

    private func metric(_ live: LiveDaemon, _ prefix: String) async throws -> Double {
        let response = try await live.request("/metrics")
        let text = String(buffer: try XCTUnwrap(response.body))
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Double(line.split(separator: " ").last ?? "") ?? .nan
    }

    func testStalledAndIdleConnectionsAreClosedOnTimeWhileRequestsGoOn() async throws {
        let live = try await start { s in
            s.headerTimeout = 1
            s.idleTimeout = 1
            s.bodyTimeout = 1
            s.bodyMinRate = 100
        }
        let port = live.port
        var sockets: [(fd: Int32, kind: String)] = []
        // Sends nothing at all.
        for _ in 0..<20 { sockets.append((try RawSocket.connect(port), "silent")) }
        // Half a head: never finishes its headers.
        for _ in 0..<10 {
            let fd = try RawSocket.connect(port)
            RawSocket.send(fd, "POST /v1/models/fashion/classify HTTP/1.1\r\nHost: x\r\nContent-Ty")
            sockets.append((fd, "half-head"))
        }
        // A head announcing 1,000 bytes, then 3.
        for _ in 0..<20 {
            let fd = try RawSocket.connect(port)
            RawSocket.send(fd, "POST /v1/models/fashion/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"p")
            sockets.append((fd, "half-body"))
        }
        // One request answered, then idle on keep-alive.
        for _ in 0..<10 {
            let fd = try RawSocket.connect(port)
            RawSocket.send(fd, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            sockets.append((fd, "idle"))
        }
        // A trickle: one byte every 0.3 s (no gap over body_timeout, far under body_min_rate).
        let trickle = try RawSocket.connect(port)
        RawSocket.send(trickle, "POST /v1/models/fashion/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        let trickling = Task.detached {
            for _ in 0..<40 where !RawSocket.isClosed(trickle) {
                RawSocket.send(trickle, "x")
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
        defer {
            trickling.cancel()
            close(trickle)
            for s in sockets { close(s.fd) }
        }

        // Normal requests keep going meanwhile, at their usual latency.
        let start = ContinuousClock.now
        var slowest = Duration.zero
        while ContinuousClock.now - start < .milliseconds(2500) {
            let t0 = ContinuousClock.now
            let response = try await live.request("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers,
                                                  body: TestJSON.body(["pixels": uniformPixels(0.3)]))
            XCTAssertEqual(response.status, .ok)
            slowest = max(slowest, ContinuousClock.now - t0)
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertLessThan(slowest, .milliseconds(500), "a normal request took \(slowest) beside the stalled ones")

        // All stalled and idle ones closed by now (limits 1 s, checked at 2.5 s).
        for s in sockets {
            XCTAssertTrue(RawSocket.isClosed(s.fd), "a \(s.kind) connection is still open")
        }
        var trickleClosed = false
        let until = ContinuousClock.now + .seconds(5)
        while !trickleClosed && ContinuousClock.now < until {
            trickleClosed = RawSocket.isClosed(trickle)
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertTrue(trickleClosed, "the trickling body was not cut off")

        let header = try await metric(live, #"dlserve_connections_timed_out_total{reason="header"}"#)
        let idle = try await metric(live, #"dlserve_connections_timed_out_total{reason="idle"}"#)
        let body = try await metric(live, #"dlserve_connections_timed_out_total{reason="body"}"#)
        let rate = try await metric(live, #"dlserve_connections_timed_out_total{reason="body_rate"}"#)
        XCTAssertGreaterThanOrEqual(header, 30)  // silent + half heads
        XCTAssertGreaterThanOrEqual(idle, 10)
        XCTAssertGreaterThanOrEqual(body, 20)
        XCTAssertEqual(rate, 1)
        try await live.stop()
    }

    func testConnectionsPastTheCapAreClosedAtOnceAndCounted() async throws {
        let live = try await start { s in
            s.maxConnections = 3
        }
        // Three open connections hold the cap (an idle keep-alive connection
        // is open until its idle timeout).
        var held: [Int32] = []
        for _ in 0..<3 {
            let fd = try RawSocket.connect(live.port)
            RawSocket.send(fd, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(fd)
        }
        try await Task.sleep(for: .milliseconds(300))
        let extra = try RawSocket.connect(live.port)
        let t0 = ContinuousClock.now
        var closed = false
        while !closed && ContinuousClock.now - t0 < .seconds(2) {
            closed = RawSocket.isClosed(extra)
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertTrue(closed, "a connection past max_connections stayed open")
        close(extra)
        for fd in held { close(fd) }
        // Freed: new connections are served again, and the refusal was counted.
        try await Task.sleep(for: .milliseconds(300))
        let refused = try await metric(live, "dlserve_connections_refused_total")
        XCTAssertEqual(refused, 1)
        let open = try await metric(live, "dlserve_connections_open")
        XCTAssertEqual(open, 1)  // the scrape's own connection
        try await live.stop()
    }
}

/// Blocking POSIX sockets to 127.0.0.1, for clients that misbehave.
enum RawSocket {
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// True when the server closed the connection (end of stream or reset);
    /// answers it sent are read and dropped.
    static func isClosed(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }
}
