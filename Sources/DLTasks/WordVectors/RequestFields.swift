import DLNN
import DLServing
import Foundation

/// Strict decoding of a JSON object body for the word-vector requests:
/// unknown keys are rejected, and every wrong field is a
/// `ServingError.invalidInput` that names it ("'k' must be an integer in
/// 1...100 (got 0)").
struct RequestFields {
    let container: KeyedDecodingContainer<AnyCodingKey>

    init(_ decoder: Decoder, known: [String]) throws {
        guard let c = try? decoder.container(keyedBy: AnyCodingKey.self) else {
            throw ServingError.invalidInput("the body must be a JSON object with \(Self.list(known))")
        }
        if let bad = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw ServingError.invalidInput("unknown field '\(bad)' (expected \(Self.list(known)))")
        }
        container = c
    }

    static func list(_ keys: [String]) -> String { keys.map { "'\($0)'" }.joined(separator: ", ") }

    func has(_ key: String) -> Bool { container.contains(AnyCodingKey(stringValue: key)) }

    func string(_ key: String) throws -> String {
        guard has(key) else { throw ServingError.invalidInput("the body needs '\(key)' (a word)") }
        guard let s = try? container.decode(String.self, forKey: AnyCodingKey(stringValue: key)) else {
            throw ServingError.invalidInput("'\(key)' must be a string")
        }
        return s
    }

    func int(_ key: String, default d: Int, in range: ClosedRange<Int>) throws -> Int {
        guard has(key) else { return d }
        guard let v = try? container.decode(Int.self, forKey: AnyCodingKey(stringValue: key)), range.contains(v) else {
            let got = (try? container.decode(Double.self, forKey: AnyCodingKey(stringValue: key))).map { " (got \($0))" } ?? ""
            throw ServingError.invalidInput("'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound)\(got)")
        }
        return v
    }

    func strings(_ key: String, required: Bool) throws -> [String] {
        guard has(key) else {
            if required { throw ServingError.invalidInput("the body needs '\(key)' (a list of words)") }
            return []
        }
        guard let v = try? container.decode([String].self, forKey: AnyCodingKey(stringValue: key)) else {
            throw ServingError.invalidInput("'\(key)' must be a list of strings")
        }
        return v
    }

    /// A list of two-word lists, `[["man", "woman"], ...]`.
    func pairs(_ key: String, required: Bool) throws -> [(String, String)] {
        guard has(key) else {
            if required { throw ServingError.invalidInput("the body needs '\(key)' (a list of word pairs)") }
            return []
        }
        guard let v = try? container.decode([[String]].self, forKey: AnyCodingKey(stringValue: key)) else {
            throw ServingError.invalidInput("'\(key)' must be a list of word pairs, e.g. [[\"man\", \"woman\"]]")
        }
        return try v.enumerated().map { i, p in
            guard p.count == 2 else { throw ServingError.invalidInput("'\(key)[\(i)]' must be two words (got \(p.count))") }
            return (p[0], p[1])
        }
    }
}
