import DLServing
import Foundation

/// One word of an answer with its cosine similarity to the query.
public struct ScoredWord: Codable, Sendable, Equatable {
    public var word: String
    public var cosine: Float

    public init(word: String, cosine: Float) {
        self.word = word
        self.cosine = cosine
    }
}

/// The words closest to a word by cosine similarity:
/// `POST /v1/models/{name}/nearest` with `{"word": "frog", "k": 5}` (k in
/// 1...100, default 10) -> the k words of highest cosine, the query excluded.
public struct NearestWords: ServingTask {
    public static let route = "nearest"
    public static let modelTask = "word_vectors"
    public static let maxK = 100

    public init() {}

    public struct Request: Decodable, Sendable, Equatable {
        public var word: String
        public var k: Int

        public init(word: String, k: Int = 10) {
            self.word = word
            self.k = k
        }

        public init(from decoder: Decoder) throws {
            let f = try RequestFields(decoder, known: ["word", "k"])
            word = try f.string("word")
            k = try f.int("k", default: 10, in: 1...NearestWords.maxK)
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        /// The query as looked up (lowercased for a lowercase model).
        public var word: String
        /// Highest cosine first.
        public var results: [ScoredWord]
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        guard (1...Self.maxK).contains(request.k) else {
            throw ServingError.invalidInput("'k' must be an integer in 1...\(Self.maxK) (got \(request.k))")
        }
        let space = try WordVectorSpace(model)
        let row = try space.row(request.word, field: "word")
        let results = space.nearest(row: row, k: request.k).map { ScoredWord(word: $0.word, cosine: $0.cosine) }
        return Response(model: model.name, version: model.version, word: space.normalized(request.word), results: results)
    }
}
