import DLKernels
import DLNN
import DLTensor
import DLText
import DLTrain
import Foundation

/// The shipped translation model (`models/translate-en-es`, latest version)
/// as `dlserve eval` and the daemon decode it: subwords from the version,
/// the KV-cache stepper, greedy or beam search (alpha 0.7, the daemon's default), sources in
/// batches of 32 sorted by length (`TranslationEvaluation.translate`).
///
/// Sentences: the fixed 300-sentence slices of both test sets
/// (Tests/DLTrainTests/Fixtures/translation, 600 sentences), and for
/// batch-1 latency the first 20-word sentence among them. Training: one
/// Adam step (label smoothing 0.1, clip 1) of a fresh model of the same
/// architecture on the first training batches of the recipe's batching
/// (`batch_tokens` 6000) over the training pairs.
struct TranslationBench {
    static let modelName = "translate-en-es"
    static let lengthPenalty = 0.7
    static let batchSize = 32

    let model: GraphModel
    let subwords: TranslationSubwords
    let version: Int
    /// Source ids (with `<eos>`) of the bench sentences.
    let sources: [[Int]]
    /// Index in `sources` of the 20-word sentence.
    let latencySentence: Int
    /// Training batches (pairs of ids).
    let trainBatches: [[EncodedPair]]

    static func load(models: URL = URL(fileURLWithPath: "models"),
                     slices: URL = URL(fileURLWithPath: "Tests/DLTrainTests/Fixtures/translation"),
                     train: URL = URL(fileURLWithPath: "data/translate-en-es/all/train.tsv"),
                     trainBatchCount: Int = 8) -> Result<TranslationBench, Error> {
        Result {
            let repository = ModelRepository(root: models)
            let version = try repository.latestValidVersion(of: modelName)
            let loaded = try repository.load(modelName, version: version)
            let subwords = try TranslationSubwords.load(from: loaded.directory)
            let pairs = try ["bible", "libreoffice"].flatMap { try TranslationPairs.read(slices.appendingPathComponent("\($0).tsv")) }
            let sources = pairs.map { subwords.encodeSource($0.source) }
            guard let twenty = pairs.firstIndex(where: { $0.source.split(separator: " ").count == 20 }) else {
                throw ModelError.io("no 20-word sentence in \(slices.path)")
            }
            var batches: [[EncodedPair]] = []
            if let text = try? TranslationPairs.read(train, limit: 20_000) {
                let encoded = TranslationPairs.encode(text, with: subwords, maxLength: 100)
                batches = TranslationBatching.batches(encoded, batchTokens: 6000).prefix(trainBatchCount).map { $0.map { encoded[$0] } }
            }
            return TranslationBench(model: loaded.model, subwords: subwords, version: version, sources: sources,
                                    latencySentence: twenty, trainBatches: batches)
        }
    }

    func options(beam: Int) -> DecodingOptions {
        var o = TranslationEvaluation.greedyOptions()
        o.beamWidth = beam
        o.lengthPenalty = Self.lengthPenalty
        return o
    }

    func translate(_ sources: [[Int]], beam: Int) -> [[Int]] {
        try! TranslationEvaluation.translate(model, sources: sources, options: options(beam: beam), batchSize: Self.batchSize)
    }

    /// Milliseconds of each of `count` batch-1 translations of the 20-word sentence.
    func latencies(beam: Int, count: Int) -> [Double] {
        let s = [sources[latencySentence]]
        for _ in 0..<3 { _ = translate(s, beam: beam) }
        return (0..<count).map { _ in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = translate(s, beam: beam)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// Seconds to translate every bench sentence.
    func setSeconds(beam: Int) -> Double {
        let t = DispatchTime.now().uptimeNanoseconds
        _ = translate(sources, beam: beam)
        return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
    }

    /// Milliseconds of each of `count` training steps (batches cycling) and
    /// the source plus target tokens of those batches.
    func trainSteps(_ count: Int) -> (ms: [Double], tokens: Int) {
        guard !trainBatches.isEmpty else { return ([], 0) }
        let fresh = try! GraphModel(spec: model.spec, seed: 1)
        let optimizer = Optimizer(rule: Adam(beta1: 0.9, beta2: 0.98, eps: 1e-9), learningRate: 1e-4, clipNorm: 1)
        var tokens = 0
        let ms = (0..<count).map { i -> Double in
            let batch = TranslationBatch(trainBatches[i % trainBatches.count])
            tokens += batch.sourceTokens + batch.targetTokens
            let t = DispatchTime.now().uptimeNanoseconds
            let ctx = ForwardContext(training: true, seed: UInt64(i))
            let logits = fresh(inputs: batch.inputs, ctx)[fresh.spec.output]!
            let loss = sequenceCrossEntropy(logits: logits, targets: batch.tgtOut, ignoreIndex: TranslationBatch.padding,
                                            labelSmoothing: 0.1)
            loss.backward()
            optimizer.step(fresh.namedParameters)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
        return (ms, tokens)
    }

    /// `dlserve-bench --translation-inputs`: the bench sentences' source
    /// ids, dlserve's greedy and beam-4 outputs for them, the latency
    /// sentence, and the training batches' ids, as JSON, so that a peer runs
    /// the same ids and first checks that it computes the same translations.
    func inputsJSON() -> String {
        struct Inputs: Encodable {
            var version: Int
            var sources: [[Int]]
            var greedy: [[Int]]
            var beam4: [[Int]]
            var latencySentence: Int
            var lengthPenalty: Double
            var trainBatches: [[[Int]]]
            enum CodingKeys: String, CodingKey {
                case version, sources, greedy, beam4
                case latencySentence = "latency_sentence", lengthPenalty = "length_penalty", trainBatches = "train_batches"
            }
        }
        let inputs = Inputs(version: version, sources: sources, greedy: translate(sources, beam: 1), beam4: translate(sources, beam: 4),
                            latencySentence: latencySentence, lengthPenalty: Self.lengthPenalty,
                            trainBatches: trainBatches.map { $0.flatMap { [$0.source, $0.target] } })
        return String(decoding: try! JSONEncoder().encode(inputs), as: UTF8.self)
    }
}
