import Foundation

/// The subword tokenizers of a translation model: one shared by both
/// languages (learned once from the source and target texts together), or
/// one per language (learned from each side alone).
///
/// Files in a model version: shared, `bpe.vocab.txt` and `bpe.merges.txt`;
/// separate, `bpe-source.vocab.txt`, `bpe-source.merges.txt`,
/// `bpe-target.vocab.txt` and `bpe-target.merges.txt` (see `BPEModel`'s
/// file format). Loading finds which by the files present.
public struct TranslationSubwords: Sendable {
    public let source: BPETokenizer
    public let target: BPETokenizer
    public let shared: Bool

    public init(source: BPEModel, target: BPEModel) {
        self.shared = source == target
        self.source = BPETokenizer(model: source)
        self.target = shared ? self.source : BPETokenizer(model: target)
    }

    public init(shared model: BPEModel) { self.init(source: model, target: model) }

    /// Learns from parallel texts (`pairs[i]` = source, target).
    public static func learn(_ pairs: [(source: String, target: String)], shared: Bool,
                             options: BPEOptions = BPEOptions()) -> TranslationSubwords {
        if shared {
            return TranslationSubwords(shared: BPELearner.learn(pairs.map(\.source) + pairs.map(\.target), options: options))
        }
        return TranslationSubwords(source: BPELearner.learn(pairs.map(\.source), options: options),
                                   target: BPELearner.learn(pairs.map(\.target), options: options))
    }

    public static let sharedName = "bpe"
    public static let sourceName = "bpe-source"
    public static let targetName = "bpe-target"

    public func write(to directory: URL) throws {
        if shared {
            try source.model.write(to: directory, name: Self.sharedName)
        } else {
            try source.model.write(to: directory, name: Self.sourceName)
            try target.model.write(to: directory, name: Self.targetName)
        }
    }

    public static func load(from directory: URL) throws(BPEError) -> TranslationSubwords {
        let sharedMerges = BPEModel.mergesURL(in: directory, name: sharedName)
        if FileManager.default.fileExists(atPath: sharedMerges.path) {
            return TranslationSubwords(shared: try BPEModel.load(from: directory, name: sharedName))
        }
        return TranslationSubwords(source: try BPEModel.load(from: directory, name: sourceName),
                                   target: try BPEModel.load(from: directory, name: targetName))
    }

    /// Source ids for the encoder: the text's subwords then `<eos>`.
    public func encodeSource(_ text: String) -> [Int] { source.encode(text, addEnd: true) }

    /// Target ids for teacher forcing: `<bos>` + subwords + `<eos>`.
    public func encodeTarget(_ text: String) -> [Int] { target.encode(text, addBeginning: true, addEnd: true) }

    /// The text of generated target ids (up to the first `<eos>`), tidied
    /// for Spanish punctuation.
    public func decodeTarget(_ ids: [Int]) -> String {
        let upToEnd = ids.prefix { $0 != BPEModel.endID }
        return Detokenizer.tidy(target.decode(upToEnd))
    }
}
