import DLTensor
import Foundation

/// The files of a word-vector model in the repository layout, as
/// `scripts/data/prepare_glove.py` writes glove-6b-50d and as skip-gram
/// training and the debiased copy write theirs:
///
///     NAME/config.json                  task "word_vectors", input.text {vocabulary "vocab.txt"}
///     NAME/VERSION/model.json           one frozen embedding layer named "embedding"
///     NAME/VERSION/weights.safetensors  "embedding.weight" F32 [rows, dim]
///     NAME/VERSION/vocab.txt            word r on line r (rows 0 and 1: "<pad>", "<unk>")
///     NAME/VERSION/metrics.json         how the vectors were made
///
/// The daemon loads such a version as any text model (the embedding is the
/// graph, vocab.txt is checked against its rows); the word-vector tasks read
/// "embedding.weight" directly. Row 0 and 1 belong to the reserved tokens of
/// dlserve's vocabularies and are zero vectors; they are never an answer.
public enum WordVectorFiles {
    public static let layerName = "embedding"
    public static let tensorName = "embedding.weight"
    public static let vocabularyFileName = "vocab.txt"
    /// The rows before the words: padding and the unknown word.
    public static let reservedWords = ["<pad>", "<unk>"]
    /// `input.text.max_length` of the config (the routes look words up one by one).
    public static let defaultMaxLength = 64

    /// model.json: token ids [T] -> vectors [T, dim] through a frozen table.
    public static func spec(rows: Int, dim: Int) -> ModelSpec {
        ModelSpec(inputShape: [-1], layers: [
            LayerSpec(name: layerName, type: "embedding", inputs: ["input"], attrs: [
                "vocab_size": .number(Double(rows)), "dim": .number(Double(dim)),
                "padding_idx": 0, "trainable": false,
            ]),
        ], output: layerName)
    }

    /// config.json of a word-vector model called `name`.
    public static func config(name: String, lowercase: Bool = true, serving: ModelConfig.Serving = ModelConfig.Serving()) -> ModelConfig {
        ModelConfig(name: name, task: .wordVectors, labels: [],
                    input: ModelConfig.Input(shape: [-1], text: ModelConfig.TextInput(
                        vocabulary: vocabularyFileName, lowercase: lowercase, maxLength: defaultMaxLength)),
                    serving: serving)
    }

    /// Writes model.json, weights.safetensors, vocab.txt and (when given)
    /// metrics.json into a version directory that exists. `words` are the
    /// rows' names, starting with `reservedWords`; `vectors` is [words.count, dim].
    public static func writeVersion(words: [String], vectors: Tensor, metrics: JSONValue?, to dir: URL) throws {
        try check(words: words, vectors: vectors)
        let rows = vectors.shape[0], dim = vectors.shape[1]
        try JSONFile.write(spec(rows: rows, dim: dim), to: dir.appendingPathComponent(GraphModel.specFileName))
        try Safetensors.write([(tensorName, vectors)], metadata: ["format": "pt"],
                              to: dir.appendingPathComponent(GraphModel.weightsFileName))
        try AtomicFile.write(Data((words.joined(separator: "\n") + "\n").utf8), to: dir.appendingPathComponent(vocabularyFileName))
        if let metrics {
            try JSONFile.write(metrics, to: dir.appendingPathComponent(ModelRepository.metricsFileName))
        }
    }

    /// Publishes a new model directory `target` (config.json and version 1)
    /// in one rename: a reader sees all of it or nothing. Throws
    /// `ModelError.io` when `target` exists.
    public static func publishModel(at target: URL, config: ModelConfig, words: [String], vectors: Tensor,
                                    metrics: JSONValue?) throws {
        try config.validate()
        try AtomicFile.publishDirectory(at: target) { tmp in
            try JSONFile.write(config, to: tmp.appendingPathComponent(ModelRepository.configFileName))
            let version = tmp.appendingPathComponent("1", isDirectory: true)
            do { try FileManager.default.createDirectory(at: version, withIntermediateDirectories: false) } catch {
                throw ModelError.io("cannot create \(version.path): \(error.localizedDescription)")
            }
            try writeVersion(words: words, vectors: vectors, metrics: metrics, to: version)
        }
    }

    /// Reads a version directory's words and "embedding.weight" [words, dim].
    public static func read(version dir: URL) throws -> (words: [String], vectors: Tensor) {
        let vocab = dir.appendingPathComponent(vocabularyFileName)
        guard let text = try? String(contentsOf: vocab, encoding: .utf8) else {
            throw ModelError.io("cannot read \(vocab.path) as UTF-8")
        }
        var words = text.components(separatedBy: "\n")
        if words.last == "" { words.removeLast() }
        let file = try Safetensors.read(contentsOf: dir.appendingPathComponent(GraphModel.weightsFileName))
        guard let vectors = file.tensors[tensorName] else {
            throw ModelError.checkpoint("\(dir.path)/\(GraphModel.weightsFileName) has no '\(tensorName)'")
        }
        try check(words: words, vectors: vectors)
        return (words, vectors)
    }

    static func check(words: [String], vectors: Tensor) throws {
        guard vectors.rank == 2, vectors.shape[0] == words.count, vectors.shape[1] > 0 else {
            throw ModelError.checkpoint("'\(tensorName)' is \(vectors.shape) for \(words.count) words; expected [\(words.count), dim]")
        }
        guard Array(words.prefix(reservedWords.count)) == reservedWords else {
            throw ModelError.checkpoint("\(vocabularyFileName) must start with \(reservedWords)")
        }
    }
}
