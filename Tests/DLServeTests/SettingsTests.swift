import DLServe
import Foundation
import XCTest

/// Settings precedence: flag > environment > config file > default.
final class SettingsTests: XCTestCase {
    func testDefaultsWorkFromAFreshClone() throws {
        let s = try ServeSettings.resolve([])
        XCTAssertEqual(s.host, "127.0.0.1")
        XCTAssertEqual(s.port, 8080)
        XCTAssertEqual(s.models, "./models")
        XCTAssertEqual(s.state, "./var")
        XCTAssertNil(s.workers)
        XCTAssertEqual(s.maxBodyBytes, 8 * 1024 * 1024)
        XCTAssertNil(s.tokenFile)
    }

    func testFlagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.json")
        try Data(#"{"port": 9001, "host": "0.0.0.0", "models": "/srv/models", "workers": 3, "poll_interval": 5}"#.utf8).write(to: file)

        var flags = ServeSettings.Layer()
        flags.port = 7000
        let env = try ServeSettings.Layer.environment(["DLSERVE_PORT": "7500", "DLSERVE_HOST": "::1", "DLSERVE_WORKERS": "", "DLSERVE_REQUEST_TIMEOUT": "2.5"])
        let s = try ServeSettings.resolve([flags, env, try ServeSettings.Layer.file(file.path)])
        XCTAssertEqual(s.port, 7000)  // flag
        XCTAssertEqual(s.host, "::1")  // env over file
        XCTAssertEqual(s.requestTimeout, 2.5)  // env
        XCTAssertEqual(s.workers, 3)  // empty env value does not count: file
        XCTAssertEqual(s.models, "/srv/models")  // file
        XCTAssertEqual(s.pollInterval, 5)  // file
        XCTAssertEqual(s.state, "./var")  // default
    }

    func testBadValuesAreRefusedWithTheirName() throws {
        XCTAssertThrowsError(try ServeSettings.Layer.environment(["DLSERVE_PORT": "eighty"])) { error in
            XCTAssertTrue("\(error)".contains("DLSERVE_PORT"), "\(error)")
        }
        var layer = ServeSettings.Layer()
        layer.port = 70000
        XCTAssertThrowsError(try ServeSettings.resolve([layer])) { XCTAssertTrue("\($0)".contains("port")) }
        layer = ServeSettings.Layer()
        layer.tlsCert = "/x.pem"
        XCTAssertThrowsError(try ServeSettings.resolve([layer])) { XCTAssertTrue("\($0)".contains("tls_key")) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let typo = dir.appendingPathComponent("typo.json")
        try Data(#"{"prot": 1}"#.utf8).write(to: typo)
        XCTAssertThrowsError(try ServeSettings.Layer.file(typo.path)) { XCTAssertTrue("\($0)".contains("prot"), "\($0)") }
        let wrongType = dir.appendingPathComponent("type.json")
        try Data(#"{"port": "x"}"#.utf8).write(to: wrongType)
        XCTAssertThrowsError(try ServeSettings.Layer.file(wrongType.path)) { XCTAssertTrue("\($0)".contains("port"), "\($0)") }
        XCTAssertThrowsError(try ServeSettings.Layer.file(dir.appendingPathComponent("missing.json").path))
    }

    func testTokenFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let token = dir.appendingPathComponent("token")
        try Data("  abc123  \nignored\n".utf8).write(to: token)
        var s = ServeSettings()
        s.tokenFile = token.path
        XCTAssertEqual(try s.readToken(), "abc123")
        try Data("\n".utf8).write(to: token)
        XCTAssertThrowsError(try s.readToken())
        s.tokenFile = dir.appendingPathComponent("none").path
        XCTAssertThrowsError(try s.readToken())
    }

    func testConnectionLimitsFromEnvironmentAndFileAndTheirChecks() throws {
        let env = try ServeSettings.Layer.environment(["DLSERVE_HEADER_TIMEOUT": "5", "DLSERVE_MAX_CONNECTIONS": "100"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("config.json")
        try Data(#"{"idle_timeout": 7.5, "body_timeout": 20, "body_min_rate": 4096, "max_connections": 9}"#.utf8).write(to: file)
        let s = try ServeSettings.resolve([env, try .file(file.path)])
        XCTAssertEqual(s.connectionLimits, ConnectionLimits(header: .seconds(5), idle: .milliseconds(7500), body: .seconds(20),
                                                            bodyMinRate: 4096, maxConnections: 100))
        XCTAssertEqual(ServeSettings().connectionLimits, ConnectionLimits())
        for (layer, name) in [(\ServeSettings.Layer.headerTimeout, "header_timeout"), (\.idleTimeout, "idle_timeout"), (\.bodyTimeout, "body_timeout")] {
            var bad = ServeSettings.Layer()
            bad[keyPath: layer] = 0
            XCTAssertThrowsError(try ServeSettings.resolve([bad])) { XCTAssertTrue("\($0)".contains(name), "\($0)") }
        }
        var bad = ServeSettings.Layer()
        bad.maxConnections = 0
        XCTAssertThrowsError(try ServeSettings.resolve([bad])) { XCTAssertTrue("\($0)".contains("max_connections"), "\($0)") }
        bad = ServeSettings.Layer()
        bad.bodyMinRate = 0
        XCTAssertThrowsError(try ServeSettings.resolve([bad])) { XCTAssertTrue("\($0)".contains("body_min_rate"), "\($0)") }
        XCTAssertThrowsError(try ServeSettings.Layer.environment(["DLSERVE_BODY_MIN_RATE": "fast"]))
    }
}
