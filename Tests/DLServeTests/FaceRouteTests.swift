import DLNN
import DLServe
import DLServeTesting
import DLServing
import DLTasks
import DLTensor
import DLVision
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The face routes (verify, embed, the gallery) over the real engine with a
/// hand-set embedding model whose answers are known exactly: an 8 x 8 grey
/// photo's four 4 x 4 quadrant means (values / 255), through a 4 x 4 dense
/// layer (the identity in version 1, a permutation in version 2), scaled to
/// unit length. A photo with one bright quadrant embeds as that axis, so two
/// such photos are at squared distance 0 (same quadrant) or 2; tau is 0.5.
final class FaceRouteTests: XCTestCase {
    var repo: TestRepository!
    var state: URL!

    static let tau = 0.5

    override func setUpWithError() throws {
        repo = try TestRepository()
        state = FileManager.default.temporaryDirectory.appendingPathComponent("face-state-\(UUID().uuidString)")
        try Self.publishToyModel(repo.repository, weights: Self.identity)
    }

    override func tearDownWithError() throws {
        repo.remove()
        try? FileManager.default.removeItem(at: state)
    }

    static let identity: [Float] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    /// Quadrant 0 -> axis 1, 1 -> 0, 2 -> 3, 3 -> 2.
    static let swapped: [Float] = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]

    @discardableResult
    func publish(weights: [Float]) throws -> Int { try Self.publishToyModel(repo.repository, weights: weights) }

    /// The hand-set embedding model as the next version of "faces" (config.json written on first use).
    @discardableResult
    static func publishToyModel(_ repository: ModelRepository, weights: [Float], flipAverage: Bool = false) throws -> Int {
        if (try? repository.config(of: "faces")) == nil {
            try repository.writeConfig(ModelConfig(name: "faces", task: .embedding, labels: [], input: .init(shape: [1, 8, 8], color: .grayscale)))
        }
        let spec = ModelSpec(inputs: [InputSpec(name: "image", shape: [1, 8, 8])], layers: [
            LayerSpec(name: "pool", type: "avg_pool2d", inputs: ["image"], attrs: ["kernel_size": 4]),
            LayerSpec(name: "flat", type: "flatten", inputs: ["pool"]),
            LayerSpec(name: "fc", type: "dense", inputs: ["flat"], attrs: ["units": 4, "bias": false]),
            LayerSpec(name: "embedding", type: "l2_normalize", inputs: ["fc"]),
        ], outputs: ["embedding"])
        let model = try GraphModel(spec: spec, seed: 1)
        try model.loadStateDict(["fc.weight": Tensor(shape: [4, 4], data: weights)])
        return try repository.publish(name: "faces") { dir in
            try model.save(to: dir)
            try JSONEncoder().encode(VerificationFile(dim: 4, tau: Self.tau, flipAverage: flipAverage))
                .write(to: dir.appendingPathComponent(VerificationFile.fileName))
        }
    }

    /// An 8 x 8 grey PNG, `levels` giving each quadrant's value (top-left, top-right, bottom-left, bottom-right).
    static func photo(_ levels: [UInt8]) -> Data {
        var pixels = [UInt8](repeating: 0, count: 64)
        for y in 0..<8 { for x in 0..<8 { pixels[y * 8 + x] = levels[(y / 4) * 2 + x / 4] } }
        return try! ImageEncoder.png(Image(width: 8, height: 8, channels: 1, pixels: pixels))
    }

    /// Squared distance of the unit vectors along (1, 0) and (200, 20).
    static let adaDistance: Double = {
        let n: Double = (200.0 * 200.0 + 20.0 * 20.0).squareRoot()
        return 2.0 - 2.0 * 200.0 / n
    }()

    static let ada = photo([255, 0, 0, 0]), adaAgain = photo([200, 20, 0, 0]), bob = photo([0, 255, 0, 0]), eve = photo([0, 0, 0, 255])

    func withApp(token: String? = nil, _ body: @escaping @Sendable (any TestClientProtocol, FaceGallery) async throws -> Void) async throws {
        let box = GalleryBox()
        let state = self.state!, root = repo.root
        try await withEngineApplication(repository: root, tasks: [FaceVerification(), FaceEmbedding()],
                                        settings: HTTPSettings(bearerToken: token), endpoints: { backend in
            let g = try FaceGallery(stateDirectory: state, repository: ModelRepository(root: root), performer: backend)
            box.gallery = g
            return [g]
        }) { client in try await body(client, box.gallery!) }
    }

    final class GalleryBox: @unchecked Sendable { var gallery: FaceGallery? }

    static func json(_ object: [String: Any]) -> ByteBuffer { TestJSON.body(object) }
    static func b64(_ d: Data) -> String { d.base64EncodedString() }

    /// A multipart/form-data body of text fields and PNG files.
    static func multipart(fields: [(String, String)] = [], files: [(String, Data)]) -> (ByteBuffer, String) {
        let boundary = "dlserve-test-\(UUID().uuidString)"
        var body = Data()
        for (name, value) in fields {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for (i, (name, data)) in files.enumerated() {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"p\(i).png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            body += data + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return (ByteBuffer(bytes: body), "multipart/form-data; boundary=\(boundary)")
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ body: ByteBuffer? = nil,
              contentType: String = "application/json", token: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.contentType: contentType]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body) { r in
            (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:])
        }
    }

    func testVerifyAnswersDistanceTauAndDecisionFromJSONAndMultipart() async throws {
        try await withApp { client, _ in
            let (s1, same) = try await self.call(client, .post, "/v1/models/faces/verify",
                                                 Self.json(["a": Self.b64(Self.ada), "b": Self.b64(Self.adaAgain)]))
            XCTAssertEqual(s1, .ok)
            // adaAgain embeds as (200, 20, 0, 0) / |.|: squared distance 2 - 2 * 200 / sqrt(200^2 + 20^2).
            let expected = Self.adaDistance
            XCTAssertEqual(same["distance"] as! Double, expected, accuracy: 1e-5)
            XCTAssertEqual(same["same"] as? Bool, true)
            XCTAssertEqual(same["tau"] as? Double, Self.tau)
            XCTAssertEqual(same["metric"] as? String, "squared_euclidean")
            let (form, type) = Self.multipart(files: [("a", Self.ada), ("b", Self.bob)])
            let (s2, different) = try await self.call(client, .post, "/v1/models/faces/verify", form, contentType: type)
            XCTAssertEqual(s2, .ok)
            XCTAssertEqual(different["distance"] as! Double, 2, accuracy: 1e-5)
            XCTAssertEqual(different["same"] as? Bool, false)
        }
    }

    func testVerifyRejectsOnePhotoAndNonImages() async throws {
        try await withApp { client, _ in
            let (s1, one) = try await self.call(client, .post, "/v1/models/faces/verify", Self.json(["a": Self.b64(Self.ada)]))
            XCTAssertEqual(s1, .badRequest)
            XCTAssertTrue((one["error"] as? String ?? "").contains("two photos"), "\(one)")
            let (s2, text) = try await self.call(client, .post, "/v1/models/faces/verify",
                                                 Self.json(["a": Self.b64(Self.ada), "b": Self.b64(Data("hello".utf8))]))
            XCTAssertEqual(s2, .unsupportedMediaType, "\(text)")
            XCTAssertEqual(text["code"] as? String, "unsupported_media_type")
            let (form, type) = Self.multipart(files: [("a", Self.ada)])
            let (s3, _) = try await self.call(client, .post, "/v1/models/faces/verify", form, contentType: type)
            XCTAssertEqual(s3, .badRequest)
            let (s4, broken) = try await self.call(client, .post, "/v1/models/faces/verify", ByteBuffer(string: "--x\r\nnonsense"),
                                                   contentType: "multipart/form-data; boundary=x")
            XCTAssertEqual(s4, .badRequest, "\(broken)")
            let (s5, unknown) = try await self.call(client, .post, "/v1/models/nobody/verify",
                                                    Self.json(["a": Self.b64(Self.ada), "b": Self.b64(Self.bob)]))
            XCTAssertEqual(s5, .notFound)
            XCTAssertEqual(unknown["code"] as? String, "unknown_model")
        }
    }

    func testEmbedAnswersUnitVectorsForOneOrSeveralPhotos() async throws {
        try await withApp { client, _ in
            let (s1, one) = try await self.call(client, .post, "/v1/models/faces/embed", ByteBuffer(bytes: Self.bob), contentType: "image/png")
            XCTAssertEqual(s1, .ok)
            XCTAssertEqual(one["dim"] as? Int, 4)
            let e = (one["embeddings"] as! [[Double]])[0]
            for (v, want) in zip(e, [0.0, 1, 0, 0]) { XCTAssertEqual(v, want, accuracy: 1e-6) }
            let (s2, two) = try await self.call(client, .post, "/v1/models/faces/embed",
                                                Self.json(["images": [Self.b64(Self.ada), Self.b64(Self.eve)]]))
            XCTAssertEqual(s2, .ok)
            let both = two["embeddings"] as! [[Double]]
            XCTAssertEqual(both.count, 2)
            XCTAssertEqual(both[1][3], 1, accuracy: 1e-6)
            let (s3, _) = try await self.call(client, .post, "/v1/models/faces/embed", Self.json([:]))
            XCTAssertEqual(s3, .badRequest)
        }
    }

    func testFlipAverageEmbedsEachPhotoWithItsMirrorImage() async throws {
        // Version 2 says flip_average: a top-left photo's mirror is top-right, so its embedding
        // is the unit mean of axes 0 and 1 (in embed, verify and the gallery alike).
        try Self.publishToyModel(repo.repository, weights: Self.identity, flipAverage: true)
        try await withApp { client, _ in
            let (s, one) = try await self.call(client, .post, "/v1/models/faces/embed", ByteBuffer(bytes: Self.ada), contentType: "image/png")
            XCTAssertEqual(s, .ok)
            XCTAssertEqual(one["version"] as? Int, 2)
            let e = (one["embeddings"] as! [[Double]])[0]
            for (v, want) in zip(e, [Double(0.5).squareRoot(), Double(0.5).squareRoot(), 0, 0]) { XCTAssertEqual(v, want, accuracy: 1e-6) }
            // Ada and Bob are mirror images of each other: one person under flip averaging.
            let (_, v) = try await self.call(client, .post, "/v1/models/faces/verify", Self.json(["a": Self.b64(Self.ada), "b": Self.b64(Self.bob)]))
            XCTAssertEqual(v["distance"] as! Double, 0, accuracy: 1e-6)
            let (_, enrolled) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["name": "Ada", "image": Self.b64(Self.ada)]))
            XCTAssertEqual(enrolled["version"] as? Int, 2)
            let (_, who) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.bob), contentType: "image/png")
            XCTAssertEqual((who["identity"] as? [String: Any])?["name"] as? String, "Ada", "\(who)")
        }
    }

    func testGalleryEnrollListShowDeleteAndIdentify() async throws {
        try await withApp { client, _ in
            // An empty gallery answers unknown, not an error.
            let (s0, empty) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.ada), contentType: "image/png")
            XCTAssertEqual(s0, .ok)
            XCTAssertEqual(empty["unknown"] as? Bool, true)
            XCTAssertEqual(empty["gallery_size"] as? Int, 0)
            // One-shot enrollment by JSON; two photos by multipart.
            let (s1, ada) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["name": "Ada", "image": Self.b64(Self.ada)]))
            XCTAssertEqual(s1, .created, "\(ada)")
            let adaID = (ada["identity"] as! [String: Any])["id"] as! Int
            let (form, type) = Self.multipart(fields: [("name", "Bob")], files: [("images", Self.bob), ("images", Self.photo([0, 240, 10, 0]))])
            let (s2, bob) = try await self.call(client, .post, "/v1/models/faces/identities", form, contentType: type)
            XCTAssertEqual(s2, .created, "\(bob)")
            XCTAssertEqual((bob["identity"] as! [String: Any])["photos"] as? Int, 2)
            // A duplicate name is a conflict; no name or no photo a bad request.
            let (s3, dup) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["name": "Ada", "image": Self.b64(Self.bob)]))
            XCTAssertEqual(s3, .conflict)
            XCTAssertEqual(dup["code"] as? String, "conflict")
            let (s4, _) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["image": Self.b64(Self.bob)]))
            XCTAssertEqual(s4, .badRequest)
            let (s5, _) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["name": "Nobody"]))
            XCTAssertEqual(s5, .badRequest)
            // Pages of one.
            let (s6, page) = try await self.call(client, .get, "/v1/models/faces/identities?limit=1")
            XCTAssertEqual(s6, .ok)
            XCTAssertEqual(page["total"] as? Int, 2)
            XCTAssertEqual((page["identities"] as! [[String: Any]]).map { $0["name"] as! String }, ["Ada"])
            let after = page["next_after"] as! Int
            let (_, page2) = try await self.call(client, .get, "/v1/models/faces/identities?limit=1&after=\(after)")
            XCTAssertEqual((page2["identities"] as! [[String: Any]]).map { $0["name"] as! String }, ["Bob"])
            XCTAssertNil(page2["next_after"])
            let (s7, _) = try await self.call(client, .get, "/v1/models/faces/identities?limit=0")
            XCTAssertEqual(s7, .badRequest)
            // Identify: Ada's other photo is Ada; Eve is unknown (distance 2 > tau) but her nearest are listed.
            let (_, who) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.adaAgain), contentType: "image/png")
            XCTAssertEqual((who["identity"] as? [String: Any])?["name"] as? String, "Ada", "\(who)")
            XCTAssertEqual(who["unknown"] as? Bool, false)
            let (_, stranger) = try await self.call(client, .post, "/v1/models/faces/identify?top_k=1",
                                                    Self.json(["image": Self.b64(Self.eve)]))
            XCTAssertEqual(stranger["unknown"] as? Bool, true)
            XCTAssertNil(stranger["identity"])
            XCTAssertEqual((stranger["matches"] as! [[String: Any]]).count, 1)
            XCTAssertEqual((stranger["matches"] as! [[String: Any]])[0]["distance"] as! Double, 2, accuracy: 1e-5)
            // Show, delete, and the identity is gone from identify too.
            let (s8, shown) = try await self.call(client, .get, "/v1/models/faces/identities/\(adaID)")
            XCTAssertEqual(s8, .ok)
            XCTAssertEqual(shown["name"] as? String, "Ada")
            let (s9, _) = try await self.call(client, .delete, "/v1/models/faces/identities/\(adaID)")
            XCTAssertEqual(s9, .ok)
            let (s10, gone) = try await self.call(client, .get, "/v1/models/faces/identities/\(adaID)")
            XCTAssertEqual(s10, .notFound)
            XCTAssertEqual(gone["code"] as? String, "not_found")
            let (s11, _) = try await self.call(client, .delete, "/v1/models/faces/identities/\(adaID)")
            XCTAssertEqual(s11, .notFound)
            let (s12, _) = try await self.call(client, .get, "/v1/models/faces/identities/abc")
            XCTAssertEqual(s12, .badRequest)
            let (_, after2) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.adaAgain), contentType: "image/png")
            XCTAssertEqual(after2["unknown"] as? Bool, true)
            XCTAssertEqual(after2["gallery_size"] as? Int, 1)
        }
    }

    func testChangingTheGalleryNeedsTheTokenAndReadingDoesNot() async throws {
        try await withApp(token: "s3cret") { client, _ in
            let body = Self.json(["name": "Ada", "image": Self.b64(Self.ada)])
            let (s1, denied) = try await self.call(client, .post, "/v1/models/faces/identities", body)
            XCTAssertEqual(s1, .unauthorized)
            XCTAssertEqual(denied["code"] as? String, "unauthorized")
            let (s2, ok) = try await self.call(client, .post, "/v1/models/faces/identities", body, token: "s3cret")
            XCTAssertEqual(s2, .created)
            let id = (ok["identity"] as! [String: Any])["id"] as! Int
            let (s3, _) = try await self.call(client, .get, "/v1/models/faces/identities")
            XCTAssertEqual(s3, .ok)
            let (s4, _) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.ada), contentType: "image/png")
            XCTAssertEqual(s4, .ok)
            let (s5, _) = try await self.call(client, .delete, "/v1/models/faces/identities/\(id)")
            XCTAssertEqual(s5, .unauthorized)
        }
    }

    func testGalleryOutlivesTheProcessAndIsReEmbeddedIntoANewVersion() async throws {
        try await withApp { client, _ in
            let (s, _) = try await self.call(client, .post, "/v1/models/faces/identities", Self.json(["name": "Ada", "image": Self.b64(Self.ada)]))
            XCTAssertEqual(s, .created)
        }
        // Version 2 permutes the axes: version 1's templates would not match its embeddings.
        try publish(weights: Self.swapped)
        try await withApp { client, gallery in
            // A new process: the gallery is read back and still answers from version 1,
            // the version its templates were made by, until it is re-embedded.
            XCTAssertEqual(gallery.status("faces").active, 1)
            let (_, before) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.adaAgain), contentType: "image/png")
            XCTAssertEqual(before["version"] as? Int, 1)
            XCTAssertEqual((before["identity"] as? [String: Any])?["name"] as? String, "Ada", "\(before)")
            // The daemon serves version 2 (the engine loaded the newest at start): the gallery follows.
            await gallery.refresh()
            let deadline = ContinuousClock.now + .seconds(20)
            while gallery.status("faces").active != 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            XCTAssertEqual(gallery.status("faces").active, 2)
            let (_, after) = try await self.call(client, .post, "/v1/models/faces/identify", ByteBuffer(bytes: Self.adaAgain), contentType: "image/png")
            XCTAssertEqual(after["version"] as? Int, 2)
            XCTAssertEqual((after["identity"] as? [String: Any])?["name"] as? String, "Ada", "\(after)")
            let d = (after["identity"] as? [String: Any])?["distance"] as? Double
            XCTAssertEqual(d ?? -1, Self.adaDistance, accuracy: 1e-5)
            // verify runs on the serving version too.
            let (_, v) = try await self.call(client, .post, "/v1/models/faces/verify", Self.json(["a": Self.b64(Self.ada), "b": Self.b64(Self.adaAgain)]))
            XCTAssertEqual(v["version"] as? Int, 2)
        }
    }
}
