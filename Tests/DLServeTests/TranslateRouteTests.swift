import DLNN
import DLServe
import DLServeTesting
import DLServing
import DLTasks
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// `POST /v1/models/{name}/translate` over the real engine with the tiny
/// random-weight translation fixture: JSON answers, the SVG alternative
/// (Accept or ?format=svg), and the 400, 404 and 504 answers.
final class TranslateRouteTests: XCTestCase {
    var repo: TestRepository!

    override func setUpWithError() throws {
        repo = try TestRepository()
        try TranslationFixture.publish(in: repo.repository, name: "mt", maxLength: 12)
        try TranslationFixture.publish(in: repo.repository, name: "mt-slow", timeoutMs: 50, endless: true)
    }

    override func tearDownWithError() throws { repo.remove() }

    func withApp(live: Bool = false, timeout: Duration = .seconds(10), _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var options = ServingOptions()
        options.pollInterval = nil
        options.logger.logLevel = .critical
        let engine = ServingEngine(repository: repo.root, options: options)
        try await engine.start()
        let backend = EngineBackend(engine: engine, requestTimeout: timeout, drainTimeout: .seconds(1))
        try await makeTestApplication(backend: backend, tasks: [Translation()]).test(live ? .live : .router, body)
        await engine.shutdown()
    }

    func post(_ client: any TestClientProtocol, _ body: String, uri: String = "/v1/models/mt/translate",
              accept: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let accept { headers[.accept] = accept }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { $0 }
    }

    func testJSONAnswer() async throws {
        try await withApp { client in
            let response = try await self.post(client, #"{"text": "the cat is big", "n_best": 2, "return_attention": true, "reference": "el gato"}"#)
            XCTAssertEqual(response.status, .ok, String(buffer: response.body))
            XCTAssertEqual(response.headers[.contentType], "application/json; charset=utf-8")
            let object = try TestJSON.object(response.body)
            XCTAssertEqual(Set(object.keys), ["model", "version", "results"])
            let result = try XCTUnwrap((object["results"] as? [[String: Any]])?.first)
            XCTAssertEqual(Set(result.keys), ["translation", "score", "log_probability", "tokens", "truncated", "n_best",
                                              "attention", "error_analysis"])
            let analysis = try XCTUnwrap(result["error_analysis"] as? [String: Any])
            XCTAssertTrue(["search_error", "model_error"].contains(analysis["verdict"] as? String ?? ""))
            let attention = try XCTUnwrap(result["attention"] as? [String: Any])
            XCTAssertEqual(Set(attention.keys), ["source_tokens", "target_tokens", "weights"])
            // A pinned version answers the same.
            let pinned = try await self.post(client, #"{"text": "the cat is big", "n_best": 2, "return_attention": true, "reference": "el gato"}"#,
                                             uri: "/v1/models/mt/versions/1/translate")
            XCTAssertEqual(try JSONDecoder().decode(Translation.Response.self, from: Data(String(buffer: pinned.body).utf8)),
                           try JSONDecoder().decode(Translation.Response.self, from: Data(String(buffer: response.body).utf8)))
        }
    }

    /// SVG through Accept or ?format=svg: well-formed, with the tokens; JSON
    /// stays the default and wins when the client prefers it.
    func testSVGAlternative() async throws {
        try await withApp { client in
            for (uri, accept) in [("/v1/models/mt/translate", "image/svg+xml"), ("/v1/models/mt/translate?format=svg", nil),
                                  ("/v1/models/mt/translate", "text/html, image/svg+xml;q=0.9, application/json;q=0.5")] {
                let response = try await self.post(client, #"{"text": "a red car"}"#, uri: uri, accept: accept)
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                XCTAssertEqual(response.headers[.contentType], "image/svg+xml; charset=utf-8")
                let svg = SVGDocument(Data(String(buffer: response.body).utf8))
                XCTAssertTrue(svg.ok, "\(uri): \(svg.error ?? "")")
                XCTAssertTrue(svg.texts.contains("<eos>"), "the source's <eos> is shown, escaped")
                XCTAssertGreaterThan(svg.elements["rect"] ?? 0, 0)
            }
            let json = try await self.post(client, #"{"text": "a red car"}"#, accept: "application/json, image/svg+xml")
            XCTAssertEqual(json.headers[.contentType], "application/json; charset=utf-8")
            let forced = try await self.post(client, #"{"text": "a red car"}"#, uri: "/v1/models/mt/translate?format=json",
                                             accept: "image/svg+xml")
            XCTAssertEqual(forced.headers[.contentType], "application/json; charset=utf-8")
            try assertError(try await self.post(client, #"{"texts": ["a", "b"]}"#, accept: "image/svg+xml"), .badRequest, "invalid_input")
            try assertError(try await self.post(client, #"{"text": "a"}"#, uri: "/v1/models/mt/translate?format=png"),
                            .badRequest, "bad_request")
        }
    }

    func testBadRequestsAre400WithTheProblem() async throws {
        try await withApp { client in
            let cases: [(String, String)] = [
                (#"{"text": ""}"#, "text is empty"),
                (#"{"text": "   "}"#, "text is empty"),
                (#"{"texts": ["a", ""]}"#, "texts[1] is empty"),
                (#"{"texts": []}"#, "empty"),
                (#"{"text": "the big old red cat and the new blue sea"}"#, "max_length of 12"),
                ("{\"texts\": [" + Array(repeating: "\"a\"", count: 17).joined(separator: ",") + "]}", "at most 16"),
                (#"{"text": "a", "beam_width": 0}"#, "beam_width"),
                (#"{"text": "a", "beam_width": 2, "n_best": 3}"#, "must not exceed"),
                (#"{"text": "a", "temperature": 1}"#, "unknown field 'temperature'"),
                (#"{"text": ["a"]}"#, "'text' must be a string"),
                (#"{"text": "a", "reference": ""}"#, "reference is empty"),
                ("not json", "invalid_json"),
            ]
            for (body, expected) in cases {
                let response = try await self.post(client, body)
                XCTAssertEqual(response.status, .badRequest, body)
                XCTAssertTrue(String(buffer: response.body).contains(expected), "\(body): \(String(buffer: response.body))")
            }
            let raw = ByteBuffer(bytes: Array(#"{"text": "bad "#.utf8) + [0xff, 0xfe] + Array(#""}"#.utf8))
            try await client.execute(uri: "/v1/models/mt/translate", method: .post, headers: [.contentType: "application/json"], body: raw) {
                try assertError($0, .badRequest, "invalid_json")
            }
            try assertError(try await self.post(client, #"{"text": "a"}"#, uri: "/v1/models/nope/translate"), .notFound, "unknown_model")
        }
    }

    /// The request timeout (100 ms) cuts a long decode (mt-slow never ends
    /// a hypothesis before max_length): 504.
    func testDeadlineIs504() async throws {
        try await withApp(timeout: .milliseconds(100)) { client in
            let body = "{\"texts\": [" + Array(repeating: "\"the cat is big\"", count: 16).joined(separator: ",")
                + "], \"beam_width\": 16, \"max_length\": 256}"
            try assertError(try await self.post(client, body, uri: "/v1/models/mt-slow/translate"), .gatewayTimeout, "timeout")
        }
    }

    /// Over a real socket, two concurrent requests answer what each answers alone.
    func testConcurrentRequestsOverHTTP() async throws {
        try await withApp(live: true) { client in
            let bodies = [#"{"text": "the dog is old"}"#, #"{"texts": ["i see the sky", "a red car"], "beam_width": 2}"#]
            var alone: [String] = []
            for b in bodies { alone.append(String(buffer: try await self.post(client, b).body)) }
            async let first = self.post(client, bodies[0])
            async let second = self.post(client, bodies[1])
            let together = try await [first, second].map { String(buffer: $0.body) }
            for (a, t) in zip(alone, together) {
                let x = try JSONDecoder().decode(Translation.Response.self, from: Data(a.utf8))
                let y = try JSONDecoder().decode(Translation.Response.self, from: Data(t.utf8))
                XCTAssertEqual(x.results.map(\.translation), y.results.map(\.translation))
            }
        }
    }
}

