import DLNN
import DLServing
import Foundation

extension Translation {
    /// `{"text": "..."}` or `{"texts": [...]}` with the decoding options.
    /// Strict: unknown fields, wrong types and out-of-range values are
    /// `invalidInput` naming the field. Limits that need the model (text
    /// length in subwords) are checked when the request runs.
    public struct Request: Decodable, Sendable {
        public var texts: [String]
        /// Whether the request gave `texts` (a list).
        public var isList: Bool
        /// B; 1 is greedy decoding.
        public var beamWidth: Int
        /// alpha of score = log P / Ty^alpha.
        public var lengthPenalty: Double
        public var nBest: Int
        /// Most target subwords (`<eos>` included); nil: from the source length.
        public var maxLength: Int?
        /// One reference translation per text, for the error analysis.
        public var references: [String]?
        public var returnAttention: Bool
        /// The answer is an SVG of the alignment (`?format=svg` or Accept).
        public var svg: Bool

        static let fields = ["text", "texts", "beam_width", "length_penalty", "n_best", "max_length", "reference",
                             "return_attention"]

        public init(texts: [String], isList: Bool = true, beamWidth: Int = Translation.defaultBeamWidth,
                    lengthPenalty: Double = Translation.defaultLengthPenalty, nBest: Int = 1, maxLength: Int? = nil,
                    references: [String]? = nil, returnAttention: Bool = false, svg: Bool = false) {
            self.texts = texts
            self.isList = isList
            self.beamWidth = beamWidth
            self.lengthPenalty = lengthPenalty
            self.nBest = nBest
            self.maxLength = maxLength
            self.references = references
            self.returnAttention = returnAttention
            self.svg = svg
        }

        public init(from decoder: Decoder) throws {
            let f = try RequestFields(decoder, known: Self.fields)
            let c = f.container
            func key(_ k: String) -> AnyCodingKey { AnyCodingKey(stringValue: k) }
            switch (f.has("text"), f.has("texts")) {
            case (true, false):
                guard let t = try? c.decode(String.self, forKey: key("text")) else {
                    throw ServingError.invalidInput("'text' must be a string")
                }
                texts = [t]; isList = false
            case (false, true):
                guard let t = try? c.decode([String].self, forKey: key("texts")) else {
                    throw ServingError.invalidInput("'texts' must be a list of strings")
                }
                texts = t; isList = true
            case (true, true): throw ServingError.invalidInput("give 'text' or 'texts', not both")
            case (false, false): throw ServingError.invalidInput("the body needs 'text' (a string) or 'texts' (a list of strings)")
            }
            beamWidth = try f.int("beam_width", default: Translation.defaultBeamWidth, in: 1...Translation.maxBeamWidth)
            nBest = try f.int("n_best", default: 1, in: 1...Translation.maxBeamWidth)
            guard nBest <= beamWidth else {
                throw ServingError.invalidInput("'n_best' (\(nBest)) must not exceed 'beam_width' (\(beamWidth))")
            }
            maxLength = nil
            if f.has("max_length") { maxLength = try f.int("max_length", default: 0, in: 1...Translation.maxTargetLength) }
            lengthPenalty = Translation.defaultLengthPenalty
            if f.has("length_penalty") {
                guard let a = try? c.decode(Double.self, forKey: key("length_penalty")), a.isFinite,
                      (0...Translation.maxLengthPenalty).contains(a) else {
                    throw ServingError.invalidInput("'length_penalty' must be a number in 0...\(Translation.maxLengthPenalty)")
                }
                lengthPenalty = a
            }
            returnAttention = false
            if f.has("return_attention") {
                guard let b = try? c.decode(Bool.self, forKey: key("return_attention")) else {
                    throw ServingError.invalidInput("'return_attention' must be true or false")
                }
                returnAttention = b
            }
            references = nil
            if f.has("reference") {
                if isList {
                    guard let r = try? c.decode([String].self, forKey: key("reference")) else {
                        throw ServingError.invalidInput("with 'texts', 'reference' must be a list of strings, one per text")
                    }
                    guard r.count == texts.count else {
                        throw ServingError.invalidInput("'reference' has \(r.count) strings for \(texts.count) texts")
                    }
                    references = r
                } else {
                    guard let r = try? c.decode(String.self, forKey: key("reference")) else {
                        throw ServingError.invalidInput("with 'text', 'reference' must be a string")
                    }
                    references = [r]
                }
            }
            svg = false
        }
    }
}

extension Translation {
    /// Reads the JSON request; an SVG answer (`?format=svg`, Accept:
    /// image/svg+xml) shows the alignment of exactly one text.
    public static func decode(_ body: TaskBody) throws -> Request {
        var request = try body.json(Request.self)
        if body.responseFormat == "svg" {
            guard request.texts.count == 1 else {
                throw ServingError.invalidInput("an SVG answer shows one sentence; got \(request.texts.count) texts")
            }
            request.svg = true
            request.returnAttention = true
        }
        return request
    }
}
