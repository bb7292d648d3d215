import DLNN
import DLTensor
import DLText
import Foundation

/// Word-vector model directories as a whole (see `WordVectorFiles` for the layout).
public enum WordVectorModel {
    /// The words a debiased copy neutralizes.
    public enum NeutralWords: Sendable, Equatable {
        /// Exactly these.
        case words([String])
        /// Every word but these and the words of the bias and equalize pairs
        /// (the paper's choice: all words except the definitional ones).
        case allExcept([String])
    }

    /// What a debiased copy did, also written into its metrics.json.
    public struct DebiasSummary: Codable, Sendable, Equatable {
        public var source: String
        public var sourceVersion: Int
        public var biasPairs: [[String]]
        public var biasDirectionNorm: Double
        public var neutralizedWords: Int
        public var equalizedPairs: [[String]]
        /// max |e.g| / |g| over the neutralized words, after (~1e-7: float32 storage).
        public var maxAbsProjectionAfter: Double

        enum CodingKeys: String, CodingKey {
            case source
            case sourceVersion = "source_version", biasPairs = "bias_pairs", biasDirectionNorm = "bias_direction_norm"
            case neutralizedWords = "neutralized_words", equalizedPairs = "equalized_pairs"
            case maxAbsProjectionAfter = "max_abs_projection_after"
        }
    }

    /// A word or file problem of `writeDebiased` (unknown word, empty list, ...).
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
    }

    /// Writes a debiased copy of the word-vector model in `source` (a model
    /// directory, its highest version) as a new model directory `target`,
    /// named after its last path component, with version 1: bias direction g
    /// from `pairs` (mean of e_b - e_a), then the `neutral` words neutralized,
    /// then the `equalize` pairs equalized (`WordVectorMath`). The directory
    /// is built out of sight and renamed into place (`AtomicFile`); an
    /// existing `target` is an error and is left as it is.
    @discardableResult
    public static func writeDebiased(from source: URL, to target: URL, pairs: [(String, String)], neutral: NeutralWords,
                                     equalize: [(String, String)]) throws -> DebiasSummary {
        func fail(_ m: String) -> Failure { Failure(message: m) }
        guard !pairs.isEmpty else { throw fail("no bias pairs") }
        guard !FileManager.default.fileExists(atPath: target.path) else { throw fail("\(target.path) already exists") }
        let sourceConfig = try JSONFile.decode(ModelConfig.self, from: source.appendingPathComponent(ModelRepository.configFileName))
        guard sourceConfig.task == .wordVectors else { throw fail("\(source.path) is a '\(sourceConfig.task.rawValue)' model, not word_vectors") }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []).compactMap(ModelRepository.parseVersion)
        guard let version = versions.max() else { throw fail("\(source.path) has no version") }
        let (words, vectors) = try WordVectorFiles.read(version: source.appendingPathComponent(String(version), isDirectory: true))
        let space = WordVectorSpace(vocabulary: try Vocabulary(words: words), vectors: vectors,
                                    lowercase: sourceConfig.input.text?.lowercase ?? true)
        func row(_ w: String, _ what: String) throws -> Int {
            guard let r = space.row(w) else { throw fail("\(what): unknown word '\(w)'") }
            return r
        }
        let biasRows = try pairs.map { (try row($0.0, "bias pair"), try row($0.1, "bias pair")) }
        let equalRows = try equalize.map { (try row($0.0, "equalize pair"), try row($0.1, "equalize pair")) }
        let definitional = Set(biasRows.flatMap { [$0.0, $0.1] } + equalRows.flatMap { [$0.0, $0.1] })
        let neutralRows: [Int]
        switch neutral {
        case .words(let list):
            neutralRows = try list.map { try row($0, "neutral word") }
            let equalized = Set(equalRows.flatMap { [$0.0, $0.1] })
            if let r = neutralRows.first(where: { equalized.contains($0) }) {
                throw fail("'\(words[r])' is both a neutral word and in an equalize pair")
            }
        case .allExcept(let keep):
            let kept = definitional.union(try keep.map { try row($0, "kept word") })
            neutralRows = (0..<space.rows).filter { !WordVectorSpace.reservedRows.contains($0) && !kept.contains($0) }
        }
        guard !neutralRows.isEmpty || !equalRows.isEmpty else { throw fail("nothing to neutralize or equalize") }

        let g = WordVectorMath.biasDirection(biasRows.map { (space.vector($0.0), space.vector($0.1)) })
        let gNorm = WordVectorMath.norm(g)
        guard gNorm > 1e-6 else { throw fail("the bias pairs give a zero bias direction") }
        var out = space.matrix
        let d = space.dim
        func store(_ r: Int, _ v: [Float]) { out.replaceSubrange((r * d)..<((r + 1) * d), with: v) }
        var maxProjection = 0.0
        for r in neutralRows {
            let after = WordVectorMath.neutralize(space.vector(r), g)
            maxProjection = max(maxProjection, abs(WordVectorMath.projection(after, on: g)))
            store(r, after)
        }
        for (r1, r2) in equalRows {
            let (a, b) = WordVectorMath.equalize(space.vector(r1), space.vector(r2), g)
            store(r1, a)
            store(r2, b)
        }
        let summary = DebiasSummary(
            source: source.lastPathComponent, sourceVersion: version,
            biasPairs: biasRows.map { [words[$0.0], words[$0.1]] }, biasDirectionNorm: gNorm,
            neutralizedWords: neutralRows.count, equalizedPairs: equalRows.map { [words[$0.0], words[$0.1]] },
            maxAbsProjectionAfter: maxProjection)
        let metrics = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(["debiased": summary]))
        let config = WordVectorFiles.config(name: target.lastPathComponent, lowercase: space.lowercase,
                                             serving: sourceConfig.serving)
        try WordVectorFiles.publishModel(at: target, config: config, words: words,
                                         vectors: Tensor(shape: vectors.shape, data: out), metrics: metrics)
        return summary
    }
}
