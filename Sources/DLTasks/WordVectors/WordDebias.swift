import DLServing
import Foundation

/// The course's debiasing, applied on request: `POST /v1/models/{name}/debias`
///
///     {"bias_pairs": [["man", "woman"]],            bias direction g = mean of e_b - e_a
///      "neutralize": ["receptionist", "engineer"],  words that should be neutral
///      "equalize": [["boy", "girl"]]}               definitional pairs
///
/// answers g, each neutralized word's vector after (its projection on g
/// before and after, ~0 after), and each equalized pair's vectors after with
/// their projections and their distances to every neutralized word (equal
/// within a pair), so a client can check the result. The model's vectors are
/// not changed; `WordVectorModel.writeDebiased` writes a debiased copy.
/// Projections are e.g / |g|, the signed length along g. Formulas:
/// `WordVectorMath.biasDirection`, `neutralize`, `equalize`.
public struct WordDebias: ServingTask {
    public static let route = "debias"
    public static let modelTask = "word_vectors"
    /// Words in a request, counting every occurrence in the three lists.
    public static let maxWords = 100

    public init() {}

    public struct Request: Decodable, Sendable {
        public var biasPairs: [(String, String)]
        public var neutralize: [String]
        public var equalize: [(String, String)]

        public init(biasPairs: [(String, String)], neutralize: [String] = [], equalize: [(String, String)] = []) {
            self.biasPairs = biasPairs
            self.neutralize = neutralize
            self.equalize = equalize
        }

        public init(from decoder: Decoder) throws {
            let f = try RequestFields(decoder, known: ["bias_pairs", "neutralize", "equalize"])
            biasPairs = try f.pairs("bias_pairs", required: true)
            neutralize = try f.strings("neutralize", required: false)
            equalize = try f.pairs("equalize", required: false)
        }
    }

    public struct BiasDirection: Codable, Sendable, Equatable {
        public var pairs: [[String]]
        /// |g|.
        public var norm: Float
        /// g, not normalized.
        public var vector: [Float]
    }

    public struct Neutralized: Codable, Sendable, Equatable {
        public var word: String
        public var projectionBefore: Float
        public var projectionAfter: Float
        public var cosineBefore: Float
        public var cosineAfter: Float
        public var vector: [Float]

        enum CodingKeys: String, CodingKey {
            case word, vector
            case projectionBefore = "projection_before", projectionAfter = "projection_after"
            case cosineBefore = "cosine_before", cosineAfter = "cosine_after"
        }
    }

    /// The distances of an equalized pair's two vectors to one neutralized word.
    public struct Distances: Codable, Sendable, Equatable {
        public var word: String
        public var distances: [Float]
    }

    public struct Equalized: Codable, Sendable, Equatable {
        public var words: [String]
        public var projectionsBefore: [Float]
        public var projectionsAfter: [Float]
        public var cosinesAfter: [Float]
        public var vectors: [[Float]]
        public var distances: [Distances]

        enum CodingKeys: String, CodingKey {
            case words, vectors, distances
            case projectionsBefore = "projections_before", projectionsAfter = "projections_after"
            case cosinesAfter = "cosines_after"
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        public var biasDirection: BiasDirection
        public var neutralized: [Neutralized]
        public var equalized: [Equalized]

        enum CodingKeys: String, CodingKey {
            case model, version, neutralized, equalized
            case biasDirection = "bias_direction"
        }
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let space = try WordVectorSpace(model)
        let r = try Self.debias(request, in: space)
        return Response(model: model.name, version: model.version, biasDirection: r.biasDirection,
                        neutralized: r.neutralized, equalized: r.equalized)
    }

    /// The answer's computation, without a model runner.
    public static func debias(_ request: Request, in space: WordVectorSpace) throws
        -> (biasDirection: BiasDirection, neutralized: [Neutralized], equalized: [Equalized])
    {
        guard !request.biasPairs.isEmpty else { throw ServingError.invalidInput("'bias_pairs' is empty") }
        guard !request.neutralize.isEmpty || !request.equalize.isEmpty else {
            throw ServingError.invalidInput("'neutralize' and 'equalize' are both empty: nothing to debias")
        }
        let words = 2 * request.biasPairs.count + request.neutralize.count + 2 * request.equalize.count
        guard words <= maxWords else {
            throw ServingError.invalidInput("at most \(maxWords) words per request in 'bias_pairs', 'neutralize' and 'equalize', got \(words)")
        }
        let n = space.normalized
        func pairRows(_ pairs: [(String, String)], _ field: String) throws -> [(Int, Int)] {
            try pairs.enumerated().map { i, p in
                guard n(p.0) != n(p.1) else { throw ServingError.invalidInput("'\(field)[\(i)]' names '\(p.0)' twice") }
                return (try space.row(p.0, field: "\(field)[\(i)][0]"), try space.row(p.1, field: "\(field)[\(i)][1]"))
            }
        }
        let bias = try pairRows(request.biasPairs, "bias_pairs")
        let neutral = try request.neutralize.enumerated().map { try space.row($1, field: "neutralize[\($0)]") }
        let equal = try pairRows(request.equalize, "equalize")

        let g = WordVectorMath.biasDirection(bias.map { (space.vector($0.0), space.vector($0.1)) })
        let gNorm = WordVectorMath.norm(g)
        guard gNorm > 1e-6 else { throw ServingError.invalidInput("'bias_pairs' give a zero bias direction") }
        let direction = BiasDirection(pairs: request.biasPairs.map { [n($0.0), n($0.1)] }, norm: Float(gNorm), vector: g)

        let neutralized = neutral.map { row -> Neutralized in
            let e = space.vector(row), after = WordVectorMath.neutralize(e, g)
            return Neutralized(word: space.vocabulary.words[row],
                               projectionBefore: Float(WordVectorMath.projection(e, on: g)),
                               projectionAfter: Float(WordVectorMath.projection(after, on: g)),
                               cosineBefore: Float(WordVectorMath.cosine(e, g)), cosineAfter: Float(WordVectorMath.cosine(after, g)),
                               vector: after)
        }
        let equalized = equal.map { r1, r2 -> Equalized in
            let e1 = space.vector(r1), e2 = space.vector(r2)
            let (a, b) = WordVectorMath.equalize(e1, e2, g)
            return Equalized(
                words: [space.vocabulary.words[r1], space.vocabulary.words[r2]],
                projectionsBefore: [e1, e2].map { Float(WordVectorMath.projection($0, on: g)) },
                projectionsAfter: [a, b].map { Float(WordVectorMath.projection($0, on: g)) },
                cosinesAfter: [a, b].map { Float(WordVectorMath.cosine($0, g)) },
                vectors: [a, b],
                distances: neutralized.map { w in
                    Distances(word: w.word, distances: [a, b].map { Float(WordVectorMath.distance($0, w.vector)) })
                })
        }
        return (direction, neutralized, equalized)
    }
}
