import DLNN
import DLServeTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// The gallery of a real `dlserve serve` process survives SIGKILL: every
/// enrollment the daemon acknowledged (201) is there after a restart, and
/// identify finds it.
final class FaceGalleryProcessTests: XCTestCase {
    func testAcknowledgedEnrollmentsSurviveSIGKILL() async throws {
        let binary = try DaemonProcessTests.binary()
        let repo = try TestRepository()
        defer { repo.remove() }
        try FaceRouteTests.publishToyModel(repo.repository, weights: FaceRouteTests.identity)
        let args = ["--port", "0", "--models", repo.root.path, "--state", repo.root.appendingPathComponent("var").path]

        func ready(_ port: Int) async throws {
            let by = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < by {
                let r = try? await TestClient.withClient(host: "127.0.0.1", port: port) { try await $0.get("/v2/health/ready") }
                if r?.status == .ok { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            XCTFail("not ready")
        }
        let photos = [FaceRouteTests.ada, FaceRouteTests.bob, FaceRouteTests.eve]

        let first = try DaemonProcessTests.Daemon(binary: binary, arguments: args)
        let port = try await first.port()
        try await ready(port)
        // Four clients enroll 24 people between them; the daemon is killed right after the last answer.
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for c in 0..<4 {
                group.addTask {
                    try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                        var names: [String] = []
                        for i in 0..<6 {
                            let name = "person-\(c)-\(i)"
                            let body = TestJSON.body(["name": name, "image": photos[(c + i) % 3].base64EncodedString()])
                            let r = try await client.execute(.init("/v1/models/faces/identities", method: .post, headers: TestJSON.headers, body: body))
                            if r.status == .created { names.append(name) }
                        }
                        return names
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(kill(first.process.processIdentifier, SIGKILL), 0)
        first.process.waitUntilExit()
        XCTAssertEqual(acknowledged.count, 24, first.stderr)

        let second = try DaemonProcessTests.Daemon(binary: binary, arguments: args)
        defer { kill(second.process.processIdentifier, SIGKILL); second.process.waitUntilExit() }
        let port2 = try await second.port()
        try await ready(port2)
        try await TestClient.withClient(host: "127.0.0.1", port: port2) { client in
            let list = try await client.get("/v1/models/faces/identities?limit=1000")
            XCTAssertEqual(list.status, .ok)
            let page = try JSONSerialization.jsonObject(with: Data((list.body ?? ByteBuffer()).readableBytesView)) as! [String: Any]
            XCTAssertEqual(Set((page["identities"] as! [[String: Any]]).map { $0["name"] as! String }), Set(acknowledged))
            let body = TestJSON.body(["image": FaceRouteTests.eve.base64EncodedString()])
            let r = try await client.execute(.init("/v1/models/faces/identify", method: .post, headers: TestJSON.headers, body: body))
            let found = try JSONSerialization.jsonObject(with: Data((r.body ?? ByteBuffer()).readableBytesView)) as! [String: Any]
            XCTAssertEqual(found["gallery_size"] as? Int, 24)
            XCTAssertEqual(found["unknown"] as? Bool, false)
            XCTAssertEqual(((found["matches"] as! [[String: Any]])[0]["distance"] as! Double), 0, accuracy: 1e-5)
        }
    }
}
