import DLNN
import DLServing
import DLTensor
import DLText
import Foundation

/// Sentiment of English text: `POST /v1/models/{name}/sentiment` with
/// `{"text": "..."}` or `{"texts": [...]}` (at most `maxTexts`). Each text is
/// tokenized with the version's tokenizer, encoded with its vocabulary
/// (unknown words count in the answer) and run as its own row, so texts of a
/// request and of concurrent requests batch together by length bucket.
public struct Sentiment: ServingTask {
    public static let route = "sentiment"
    public static let modelTask = "sentiment"
    public static let maxTexts = 64

    public init() {}

    public struct Request: Decodable, Sendable {
        public var texts: [String]
        /// Whether the request gave `texts` (a list), so the answer is a list too.
        public var isList: Bool

        enum CodingKeys: String, CodingKey, CaseIterable { case text, texts }

        public init(from decoder: Decoder) throws {
            let any = try decoder.container(keyedBy: AnyCodingKey.self)
            let known = CodingKeys.allCases.map(\.rawValue)
            if let bad = any.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
                throw ServingError.invalidInput("unknown field '\(bad)' (expected 'text' or 'texts')")
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch (c.contains(.text), c.contains(.texts)) {
            case (true, false):
                guard let t = try? c.decode(String.self, forKey: .text) else {
                    throw ServingError.invalidInput("'text' must be a string")
                }
                texts = [t]; isList = false
            case (false, true):
                guard let t = try? c.decode([String].self, forKey: .texts) else {
                    throw ServingError.invalidInput("'texts' must be a list of strings")
                }
                texts = t; isList = true
            case (true, true): throw ServingError.invalidInput("give 'text' or 'texts', not both")
            case (false, false): throw ServingError.invalidInput("the body needs 'text' (a string) or 'texts' (a list of strings)")
            }
        }

        public init(texts: [String], isList: Bool = true) {
            self.texts = texts
            self.isList = isList
        }
    }

    public struct Result: Codable, Sendable, Equatable {
        public var label: String
        /// Probability of each class, by label.
        public var probabilities: [String: Float]
        public var tokens: Int
        public var unknownWords: Int

        enum CodingKeys: String, CodingKey {
            case label, probabilities, tokens
            case unknownWords = "unknown_words"
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        /// One result per text, in order.
        public var results: [Result]
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let labels = model.config.labels
        guard !request.texts.isEmpty else { throw ServingError.invalidInput("'texts' is empty") }
        guard request.texts.count <= Self.maxTexts else {
            throw ServingError.invalidInput("at most \(Self.maxTexts) texts per request, got \(request.texts.count)")
        }
        var encoded: [(ids: [Int], unknown: Int)] = []
        for (i, text) in request.texts.enumerated() {
            encoded.append(try model.resources.encode(text, field: request.isList ? "texts[\(i)]" : "text"))
        }
        let logits = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
            for (i, e) in encoded.enumerated() {
                group.addTask { (i, try await model.run(Tensor(shape: [1, e.ids.count], data: e.ids.map(Float.init)))) }
            }
            var out = [Tensor?](repeating: nil, count: encoded.count)
            for try await (i, y) in group { out[i] = y }
            return out.map { $0! }
        }
        let results = zip(encoded, logits).map { e, y -> Result in
            let p = Probabilities.softmax(y.data)
            let best = p.indices.max { p[$0] < p[$1] }!
            return Result(
                label: best < labels.count ? labels[best] : String(best),
                probabilities: Dictionary(uniqueKeysWithValues: p.enumerated().map { i, v in (i < labels.count ? labels[i] : String(i), v) }),
                tokens: e.ids.count, unknownWords: e.unknown)
        }
        return Response(model: model.name, version: model.version, results: results)
    }

}

extension Sentiment.Response: JSONWritable {
    /// The probabilities' labels in sorted order (`JSONEncoder` writes a
    /// dictionary in hash order).
    public func writeJSON(to json: inout JSONWriter) {
        json.beginObject()
        json.key("model"); json.string(model)
        json.key("version"); json.int(version)
        json.key("results")
        json.beginArray()
        for r in results {
            json.beginObject()
            json.key("label"); json.string(r.label)
            json.key("probabilities")
            json.beginObject()
            for (label, p) in r.probabilities.sorted(by: { $0.key < $1.key }) {
                json.key(label); json.float(p)
            }
            json.endObject()
            json.key("tokens"); json.int(r.tokens)
            json.key("unknown_words"); json.int(r.unknownWords)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }
}
