import DLNN
import DLServe
import DLServeTesting
import DLServing
import DLTasks
import DLTensor
import DLTesting
import DLText
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// `POST /v1/models/{name}/sentiment` over the real engine with a tiny
/// bidirectional GRU (random weights) and its vocabulary in a repository on disk.
final class SentimentRouteTests: XCTestCase {
    var repo: TestRepository!
    let vocabulary = try! Vocabulary(words: ["<pad>", "<unk>", "a", "good", "bad", "film", "very", ".", "not"])

    override func setUpWithError() throws {
        repo = try TestRepository()
        let spec = ModelSpec(inputShape: [-1], layers: [
            LayerSpec(name: "mask", type: "sequence_mask", inputs: ["input"], attrs: ["padding_idx": 0]),
            LayerSpec(name: "embed", type: "embedding", inputs: ["input"], attrs: ["vocab_size": .number(Double(vocabulary.count)), "dim": 6, "padding_idx": 0]),
            LayerSpec(name: "gru", type: "gru", inputs: ["embed", "mask"], attrs: ["hidden_size": 5, "bidirectional": true]),
            LayerSpec(name: "pool", type: "sequence_pool", inputs: ["gru", "mask"], attrs: ["mode": "max"]),
            LayerSpec(name: "logits", type: "dense", inputs: ["pool"], attrs: ["units": 2]),
        ])
        let model = try GraphModel(spec: spec, seed: 3)
        let config = ModelConfig(name: "rt", task: .sentiment, labels: ["negative", "positive"],
                                 input: .init(shape: [-1], text: .init(maxLength: 12)),
                                 serving: .init(maxBatchSize: 8, maxQueueDelayMs: 20))
        try repo.repository.writeConfig(config)
        let vocab = vocabulary
        try repo.repository.publish(name: "rt") { dir in
            try model.save(to: dir)
            try Data(vocab.fileContents.utf8).write(to: dir.appendingPathComponent("vocab.txt"))
        }
    }

    override func tearDownWithError() throws { repo.remove() }

    func withApp(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await withEngineApplication(repository: repo.root, tasks: [Sentiment()], body)
    }

    func post(_ client: any TestClientProtocol, _ body: String, model: String = "rt") async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: "/v1/models/\(model)/sentiment", method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(string: body)) { ($0.status, String(buffer: $0.body)) }
    }

    func testAnswersLabelProbabilitiesAndUnknownWords() async throws {
        try await withApp { client in
            let (status, body) = try await self.post(client, #"{"text": "A very good film, not bad."}"#)
            XCTAssertEqual(status, .ok, body)
            let r = try JSONDecoder().decode(Sentiment.Response.self, from: Data(body.utf8))
            XCTAssertEqual(r.model, "rt")
            XCTAssertEqual(r.results.count, 1)
            let one = r.results[0]
            XCTAssertTrue(["negative", "positive"].contains(one.label))
            XCTAssertEqual(one.probabilities.values.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(one.probabilities[one.label], one.probabilities.values.max())
            XCTAssertEqual(one.tokens, 8)        // a very good film , not bad .
            XCTAssertEqual(one.unknownWords, 1)  // ","
        }
    }

    /// A text gets the same answer alone as padded in a batch with longer ones.
    func testBatchedTextsMatchTextsAlone() async throws {
        try await withApp { client in
            let texts = ["good film", "a very very bad film . not good . not a good", "bad", "not very good ."]
            let list = try JSONEncoder().encode(["texts": texts])
            let (status, body) = try await self.post(client, String(decoding: list, as: UTF8.self))
            XCTAssertEqual(status, .ok, body)
            let batch = try JSONDecoder().decode(Sentiment.Response.self, from: Data(body.utf8)).results
            XCTAssertEqual(batch.count, 4)
            for (i, t) in texts.enumerated() {
                let one = try JSONEncoder().encode(["text": t])
                let (s, b) = try await self.post(client, String(decoding: one, as: UTF8.self))
                XCTAssertEqual(s, .ok)
                let alone = try JSONDecoder().decode(Sentiment.Response.self, from: Data(b.utf8)).results[0]
                XCTAssertEqual(alone.label, batch[i].label)
                for (k, p) in alone.probabilities { XCTAssertEqual(p, batch[i].probabilities[k]!, accuracy: 1e-6, t) }
            }
        }
    }

    func testBadRequestsAre400WithTheProblem() async throws {
        try await withApp { client in
            let cases: [(String, String)] = [
                (#"{"text": ""}"#, "empty"),
                (#"{"text": "   "}"#, "empty"),
                (#"{"text": 42}"#, "'text' must be a string"),
                (#"{"texts": ["good", 3]}"#, "'texts' must be a list of strings"),
                (#"{"texts": []}"#, "empty"),
                (#"{"text": "a", "texts": ["b"]}"#, "not both"),
                (#"{"txt": "a"}"#, "unknown field 'txt'"),
                (#"{}"#, "needs 'text'"),
                (#"{"text": "a a a a a a a a a a a a a"}"#, "max_length of 12"),
                ("{\"texts\": [" + Array(repeating: "\"a\"", count: 65).joined(separator: ",") + "]}", "at most 64"),
                ("not json", "invalid_json"),
            ]
            for (body, expected) in cases {
                let (status, answer) = try await self.post(client, body)
                XCTAssertEqual(status, .badRequest, body)
                XCTAssertTrue(answer.contains(expected), "\(body): \(answer)")
            }
            // Invalid UTF-8 inside the string.
            let raw = ByteBuffer(bytes: Array(#"{"text": "bad "#.utf8) + [0xff, 0xfe] + Array(#""}"#.utf8))
            try await client.execute(uri: "/v1/models/rt/sentiment", method: .post, headers: [.contentType: "application/json"], body: raw) {
                XCTAssertEqual($0.status, .badRequest, String(buffer: $0.body))
            }
            let (status, answer) = try await self.post(client, #"{"text": "good"}"#, model: "nope")
            XCTAssertEqual(status, .notFound, answer)
        }
    }

    /// V2 infer on a text model: BYTES texts (JSON and the binary extension,
    /// tokenized by the server) and INT64 token ids give the sentiment
    /// route's probabilities; metadata declares the signature.
    func testV2InferTakesBytesAndTokenIDs() async throws {
        try await withApp { client in
            let texts = ["a very good film", "bad ."]
            let list = String(decoding: try JSONEncoder().encode(["texts": texts]), as: UTF8.self)
            let (_, body) = try await self.post(client, list)
            let expected = try JSONDecoder().decode(Sentiment.Response.self, from: Data(body.utf8)).results
                .flatMap { [$0.probabilities["negative"]!, $0.probabilities["positive"]!] }

            func probabilities(_ response: TestResponse) throws -> [Float] {
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let object = try TestJSON.object(response.body)
                let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
                XCTAssertEqual(outputs.map { $0["name"] as? String }, ["probabilities"])
                XCTAssertEqual(outputs[0]["shape"] as? [Int], [2, 2])
                return try XCTUnwrap(outputs[0]["data"] as? [Double]).map(Float.init)
            }
            let uri = "/v2/models/rt/infer"
            let bytesJSON = TestJSON.body(["inputs": [["name": "text", "shape": [2], "datatype": "BYTES", "data": texts]],
                                           "outputs": [["name": "probabilities"]]])
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: bytesJSON) { response in
                assertClose(try probabilities(response), expected, rtol: 1e-5, atol: 1e-6)
            }
            // Binary BYTES: a 4-byte little-endian length before each string, as Triton sends them.
            var payload = ByteBuffer()
            for t in texts {
                payload.writeInteger(UInt32(t.utf8.count), endianness: .little)
                payload.writeString(t)
            }
            var binary = TestJSON.body(["inputs": [["name": "text", "shape": [2], "datatype": "BYTES",
                                                    "parameters": ["binary_data_size": payload.readableBytes]]],
                                        "outputs": [["name": "probabilities"]]])
            let header = binary.readableBytes
            binary.writeBuffer(&payload)
            try await client.execute(uri: uri, method: .post,
                                     headers: [.contentType: "application/octet-stream", .init("Inference-Header-Content-Length")!: String(header)],
                                     body: binary) { response in
                assertClose(try probabilities(response), expected, rtol: 1e-5, atol: 1e-6)
            }
            // INT64 token ids, padded with 0: the same numbers.
            let ids = texts.map { self.vocabulary.encode(Tokenizer().tokenize($0)).ids }
            let width = ids.map(\.count).max()!
            let padded = ids.flatMap { $0 + [Int](repeating: 0, count: width - $0.count) }
            let idsJSON = TestJSON.body(["inputs": [["name": "input", "shape": [2, width], "datatype": "INT64", "data": padded]],
                                         "outputs": [["name": "probabilities"]]])
            try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: idsJSON) { response in
                assertClose(try probabilities(response), expected, rtol: 1e-5, atol: 1e-6)
            }
            // Errors: a token id outside the vocabulary, FP32 for token ids, an empty text, an unknown output.
            for (body, code) in [
                (["inputs": [["name": "input", "shape": [1, 2], "datatype": "INT64", "data": [3, 99]]]], "invalid_input"),
                (["inputs": [["name": "input", "shape": [1, 2], "datatype": "FP32", "data": [3, 4]]]], "bad_request"),
                (["inputs": [["name": "text", "shape": [1], "datatype": "BYTES", "data": ["  "]]]], "invalid_input"),
                (["inputs": [["name": "text", "shape": [1], "datatype": "BYTES", "data": ["good"]]], "outputs": [["name": "logits"]]], "bad_request"),
            ] as [([String: Any], String)] {
                try await client.execute(uri: uri, method: .post, headers: TestJSON.headers, body: TestJSON.body(body)) {
                    try assertError($0, .badRequest, code)
                }
            }
            try await client.execute(uri: "/v2/models/rt", method: .get) { response in
                let object = try TestJSON.object(response.body)
                let inputs = try XCTUnwrap(object["inputs"] as? [[String: Any]])
                XCTAssertEqual(inputs.map { $0["name"] as? String }, ["input", "text"])
                XCTAssertEqual(inputs.map { $0["datatype"] as? String }, ["INT64", "BYTES"])
                XCTAssertEqual(inputs[0]["shape"] as? [Int], [-1, -1])
                XCTAssertEqual(object["labels"] as? [String], ["negative", "positive"])
                let text = try XCTUnwrap((object["preprocessing"] as? [String: Any])?["text"] as? [String: Any])
                XCTAssertEqual(text["vocabulary_size"] as? Int, self.vocabulary.count)
                XCTAssertEqual(text["max_length"] as? Int, 12)
            }
        }
    }
}
