import DLServe
import DLServeTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The built `dlserve serve` binary as a subprocess: SIGTERM under load drains
/// and exits 0.
final class DaemonProcessTests: XCTestCase {
    var repo: TestRepository!

    override func setUpWithError() throws {
        repo = try TestRepository()
    }

    override func tearDownWithError() throws {
        repo.remove()
    }

    /// `dlserve` beside the test bundle (swift build puts every product in one directory).
    static func binary() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dlserve"),
            Bundle.main.bundleURL.appendingPathComponent("dlserve"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("dlserve"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("the dlserve binary is not built next to the tests (\(candidates.map(\.path)))")
        }
        return found
    }

    /// A running daemon process with its stderr collected.
    final class Daemon: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var log = ""

        init(binary: URL, arguments: [String]) throws {
            process.executableURL = binary
            process.arguments = ["serve"] + arguments
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NOTIFY_SOCKET")
            process.environment = env
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    lock.withLock { log += String(decoding: data, as: UTF8.self) }
                }
            }
        }

        var stderr: String { lock.withLock { log } }

        /// The port from the "listening" log line.
        func port(timeout: Duration = .seconds(60)) async throws -> Int {
            let end = ContinuousClock.now + timeout
            while ContinuousClock.now < end {
                if let range = stderr.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    return Int(stderr[range].split(separator: ":").last!)!
                }
                guard process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw XCTSkip("the daemon did not report its port: \(stderr)")
        }

        func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
            let end = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning {
                process.interrupt()
                kill(process.processIdentifier, SIGKILL)
                XCTFail("the daemon did not exit within \(timeout): \(stderr)")
                return -1
            }
            XCTAssertEqual(process.terminationReason, .exit, stderr)
            return process.terminationStatus
        }
    }

    func testSIGTERMUnderLoadDrainsInFlightRequestsAndExitsZero() async throws {
        let binary = try Self.binary()
        // Batching with a 20 ms queue delay keeps requests in flight long enough to catch some.
        try repo.writeConfig(name: "fashion", maxBatchSize: 8, maxQueueDelayMs: 20)
        try repo.publishPrototype(name: "fashion", examples: [(9, [Float](repeating: 100, count: 784)), (1, [Float](repeating: 10, count: 784))])
        let daemon = try Daemon(
            binary: binary,
            arguments: ["--port", "0", "--models", repo.root.path, "--state", repo.root.appendingPathComponent("var").path, "--drain-timeout", "10"])
        let port = try await daemon.port()
        let readyBy = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < readyBy {
            let ready = try? await TestClient.withClient(host: "127.0.0.1", port: port) { try await $0.get("/v2/health/ready") }
            if ready?.status == .ok { break }
            try await Task.sleep(for: .milliseconds(50))
        }

        let body = TestJSON.body(["pixels": uniformPixels(100)])
        let stopAt = ContinuousClock.now + .milliseconds(600)
        let clients = Task {
            try await withThrowingTaskGroup(of: [(HTTPResponse.Status, ContinuousClock.Instant)].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let seen = Box()
                        do {
                            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                                while true {
                                    let r = try await client.execute(.init("/v1/models/fashion/classify", method: .post, headers: TestJSON.headers, body: body))
                                    seen.append((r.status, ContinuousClock.now))
                                    if ContinuousClock.now > stopAt + .seconds(5) { break }
                                }
                            }
                        } catch {
                            // The connection closed during shutdown: requests that were never accepted.
                        }
                        return seen.values
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        try await Task.sleep(until: stopAt)
        let termAt = ContinuousClock.now
        XCTAssertEqual(kill(daemon.process.processIdentifier, SIGTERM), 0)
        let status = try await daemon.waitForExit()
        let seen = try await clients.value
        XCTAssertEqual(status, 0, daemon.stderr)
        XCTAssertGreaterThan(seen.count, 8)
        XCTAssertTrue(seen.allSatisfy { $0.0 == .ok }, "\(Set(seen.map(\.0.code)))")
        let finishedAfterTerm = seen.filter { $0.1 > termAt }.count
        XCTAssertGreaterThan(finishedAfterTerm, 0, "no request was in flight at SIGTERM")
        XCTAssertTrue(daemon.stderr.contains("draining"), daemon.stderr)
        print("SIGTERM under load: \(seen.count) requests answered 200, \(finishedAfterTerm) of them finished after SIGTERM; exit \(status)")
    }

    func testSIGTERMWhileModelsLoadExitsZero() async throws {
        let binary = try Self.binary()
        try repo.writeConfig(name: "slow", maxBatchSize: 1)
        try repo.publishSlow(name: "slow", hidden: 1024)
        let daemon = try Daemon(binary: binary, arguments: ["--port", "0", "--models", repo.root.path, "--state", repo.root.appendingPathComponent("var").path])
        _ = try await daemon.port()
        XCTAssertEqual(kill(daemon.process.processIdentifier, SIGTERM), 0)
        let status = try await daemon.waitForExit()
        XCTAssertEqual(status, 0, daemon.stderr)
    }

    func testBadSettingsExitNonZeroWithTheReason() async throws {
        let binary = try Self.binary()
        let daemon = try Daemon(binary: binary, arguments: ["--port", "70000"])
        let status = try await daemon.waitForExit()
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(daemon.stderr.contains("port must be 0...65535"), daemon.stderr)
    }

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(HTTPResponse.Status, ContinuousClock.Instant)] = []
        func append(_ item: (HTTPResponse.Status, ContinuousClock.Instant)) { lock.withLock { items.append(item) } }
        var values: [(HTTPResponse.Status, ContinuousClock.Instant)] { lock.withLock { items } }
    }
}
