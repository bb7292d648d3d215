import DLServing
import Foundation

/// Analogies, "a is to b as c is to ?": `POST /v1/models/{name}/analogy`
/// with `{"a": "man", "b": "woman", "c": "king", "k": 5}` (k in 1...100,
/// default 5) -> the k words w of highest cos(e_w, e_c - e_a + e_b), the
/// three inputs excluded ("queen" first for this one on GloVe 6B 50d).
public struct WordAnalogy: ServingTask {
    public static let route = "analogy"
    public static let modelTask = "word_vectors"

    public init() {}

    public struct Request: Decodable, Sendable, Equatable {
        public var a: String
        public var b: String
        public var c: String
        public var k: Int

        public init(a: String, b: String, c: String, k: Int = 5) {
            self.a = a
            self.b = b
            self.c = c
            self.k = k
        }

        public init(from decoder: Decoder) throws {
            let f = try RequestFields(decoder, known: ["a", "b", "c", "k"])
            a = try f.string("a")
            b = try f.string("b")
            c = try f.string("c")
            k = try f.int("k", default: 5, in: 1...NearestWords.maxK)
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        public var a: String
        public var b: String
        public var c: String
        /// Highest cosine with e_c - e_a + e_b first.
        public var results: [ScoredWord]
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        guard (1...NearestWords.maxK).contains(request.k) else {
            throw ServingError.invalidInput("'k' must be an integer in 1...\(NearestWords.maxK) (got \(request.k))")
        }
        let space = try WordVectorSpace(model)
        let a = try space.row(request.a, field: "a"), b = try space.row(request.b, field: "b"), c = try space.row(request.c, field: "c")
        let results = space.analogy(a: a, b: b, c: c, k: request.k).map { ScoredWord(word: $0.word, cosine: $0.cosine) }
        return Response(model: model.name, version: model.version, a: space.normalized(request.a),
                        b: space.normalized(request.b), c: space.normalized(request.c), results: results)
    }
}
