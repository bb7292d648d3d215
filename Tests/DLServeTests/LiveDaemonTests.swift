import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The whole daemon in process with real sockets on 127.0.0.1, over the fake backend.
final class LiveDaemonTests: XCTestCase {
    let classifyBody = TestJSON.body(["pixels": uniformPixels(0.3)])

    func testBurstOverfillingTheQueueGets429sAndNoCrash() async throws {
        let backend = FakeBackend(inferenceDelay: .milliseconds(300), maxInFlight: 4)
        let live = try await LiveDaemon.start(backend: backend)
        let body = classifyBody
        let responses = try await withThrowingTaskGroup(of: TestClient.Response.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    try await live.request("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: body)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let ok = responses.filter { $0.status == .ok }
        let refused = responses.filter { $0.status == .tooManyRequests }
        XCTAssertEqual(ok.count + refused.count, 24, "\(responses.map(\.status))")
        XCTAssertGreaterThanOrEqual(ok.count, 4)
        XCTAssertGreaterThan(refused.count, 0)
        for response in refused {
            XCTAssertEqual(response.headers[.retryAfter], "1")
            let object = try TestJSON.object(try XCTUnwrap(response.body))
            XCTAssertEqual(object["code"] as? String, "queue_full")
        }
        // Still serving afterwards.
        let after = try await live.request("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: body)
        XCTAssertEqual(after.status, .ok)
        try await live.stop()
    }

    func testGracefulShutdownDrainsInFlightRequests() async throws {
        let backend = FakeBackend(inferenceDelay: .milliseconds(800))
        let live = try await LiveDaemon.start(backend: backend)
        let ready = try await live.request("/v2/health/ready")
        XCTAssertEqual(ready.status, .ok)
        let body = classifyBody
        let inFlight = Task {
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        try await live.request("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: body).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        await live.group.triggerGracefulShutdown()
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertTrue(live.daemon.state.isDraining)
        let statuses = try await inFlight.value
        XCTAssertEqual(statuses, [HTTPResponse.Status](repeating: .ok, count: 5))
        try await live.wait()
        let completed = await backend.completed
        let stopped = await backend.stopped
        XCTAssertEqual(completed, 5)
        XCTAssertTrue(stopped)
        // The listener is closed.
        do {
            _ = try await live.request("/v2/health/live")
            XCTFail("the server still accepts connections")
        } catch {}
    }

    func testNotReadyWhileLoadingThenReadyAndNotified() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-live-\(UUID().uuidString.prefix(8)).sock").path
        let fd = try bindDatagramSocket(path)
        defer {
            close(fd)
            unlink(path)
        }
        let backend = FakeBackend(startDelay: .milliseconds(600))
        let live = try await LiveDaemon.start(backend: backend, notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        let early = try await live.request("/v2/health/ready")
        XCTAssertEqual(early.status, .serviceUnavailable)
        XCTAssertEqual(try TestJSON.object(try XCTUnwrap(early.body))["code"] as? String, "not_ready")
        let liveness = try await live.request("/v2/health/live")
        XCTAssertEqual(liveness.status, .ok)
        XCTAssertEqual(try receive(fd), "READY=1\nSTATUS=serving 1 of 1 models")
        let late = try await live.request("/v2/health/ready")
        XCTAssertEqual(late.status, .ok)
        try await live.stop()
        XCTAssertEqual(try receive(fd), "STOPPING=1")
    }

    func testShutdownWhileModelsLoadIsClean() async throws {
        let backend = FakeBackend(startDelay: .seconds(30))
        let live = try await LiveDaemon.start(backend: backend)
        let start = ContinuousClock.now
        try await live.stop()
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5))
        let stopped = await backend.stopped
        XCTAssertTrue(stopped)
    }

    func testPollerRunsOnceReady() async throws {
        let backend = FakeBackend()
        let live = try await LiveDaemon.start(backend: backend, settings: LiveDaemon.settings(pollInterval: 0.05))
        try await Task.sleep(for: .milliseconds(400))
        let polls = await backend.polls
        XCTAssertGreaterThan(polls, 2)
        try await live.stop()
    }
}

/// TLS with a certificate and key made by openssl for the test.
final class TLSTests: XCTestCase {
    func testServesOverTLSWithCertificateAndKey() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("no openssl to make a certificate") }
        openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"]
        openssl.standardError = FileHandle.nullDevice
        openssl.standardOutput = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        XCTAssertEqual(openssl.terminationStatus, 0)

        var settings = LiveDaemon.settings()
        settings.tlsCert = cert
        settings.tlsKey = key
        let live = try await LiveDaemon.start(backend: FakeBackend(), settings: settings)
        let response = try await live.requestTLS("/v2/health/live")
        XCTAssertEqual(response.status, .ok)
        // Plain HTTP to the TLS port gets no HTTP answer.
        do {
            let plain = try await live.request("/v2/health/live")
            XCTAssertNotEqual(plain.status, .ok)
        } catch {}
        try await live.stop()
    }

    func testMissingCertificateFileIsASettingsError() throws {
        var settings = LiveDaemon.settings()
        settings.tlsCert = "/nonexistent/cert.pem"
        settings.tlsKey = "/nonexistent/key.pem"
        let daemon = ServeDaemon(settings: settings, backend: FakeBackend(), metrics: ServeMetrics(), logger: .init(label: "t"))
        XCTAssertThrowsError(try daemon.makeServiceGroup()) { error in
            XCTAssertTrue("\(error)".contains("cannot read TLS certificate"), "\(error)")
        }
    }
}

