import ArgumentParser
import DLKernels
import DLNN
import DLTrain
import DLText
import Foundation

/// `dlserve eval --model models/NAME --dataset fashion-mnist:test` (or a text
/// dataset, `sentiment-rt:test`, for a text model; parallel text,
/// `translate-en-es/bible:test`, for a translation model): metrics as JSON.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model version on a dataset and print the metrics as JSON.",
        discussion: """
            Prints accuracy, loss (softmax cross-entropy) and per-class accuracy; with --confusion also the confusion matrix. \
            For a translation model, --dataset names parallel text (DATA/NAME/SPLIT.tsv, EN<TAB>ES lines; or --data FILE) \
            and it prints corpus BLEU and chrF (sacrebleu 13a, mixed case) of beam-search translations. \
            For a detection model, --dataset names a detection split (DATA/NAME/SPLIT.json, e.g. detect-fashion:test; \
            or --data FILE) and it prints VOC mAP@0.5, COCO mAP@[.5:.95], AP50, AP75 and per-class AP@0.5. \
            For an embedding (face) model, --dataset names a folder per person with LFW's pairs.txt (DATA/NAME/SPLIT, \
            e.g. faces:test; or --data DIR) and it prints the ten-fold verification accuracy, the AUC and every pair's distance.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: ArgumentHelp("NAME or NAME:SPLIT (split train or test; default test).", valueName: "dataset"))
    var dataset: String = "fashion-mnist:test"

    @Option(name: .long, help: "Evaluate only the first N images.")
    var limit: Int?

    @Flag(name: .long, help: "Include the confusion matrix (rows: true class, columns: predicted).")
    var confusion = false

    @OptionGroup var translation: TranslationEvalOptions

    @Option(name: .long, help: ArgumentHelp("For an embedding model: also write the ROC curve of its pairs here (SVG).", valueName: "file"))
    var roc: String?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let l = limit, l < 1 { throw ValidationError("--limit must be at least 1, got \(l)") }
        do { _ = try DatasetReference(parsing: dataset, defaultSplit: .test) } catch {
            throw ValidationError("--dataset: \(error)")
        }
    }

    func run() throws {
        let ref = try DatasetReference(parsing: dataset, defaultSplit: .test)
        let loaded = try model.load()
        if loaded.config.task == .translation {
            Kernels.setBLASThreads(compute.threadCount)
            return try translation.run(loaded, dataset: ref, limit: limit, textRoot: compute.registry.textRoot)
        }
        if loaded.config.task == .embedding {
            Kernels.setBLASThreads(compute.threadCount)
            return try EmbeddingEval.run(loaded, dataset: ref, dir: translation.data, roc: roc, dataRoot: compute.registry.textRoot)
        }
        if loaded.config.task == .detection {
            Kernels.setBLASThreads(compute.threadCount)
            return try DetectionEval.run(loaded, dataset: ref, file: translation.data, limit: limit, dataRoot: compute.registry.textRoot)
        }
        var data: Dataset
        if let text = loaded.config.input.text {
            // A text model reads its texts with its own tokenizer and the vocabulary it shipped with.
            guard let dir = compute.registry.textDirectory(ref.name) else {
                throw ValidationError("model '\(loaded.name)' takes text, and \(ref.name) is not a text dataset (no \(ref.name)/train.tsv under \(compute.registry.textRoot.path))")
            }
            let vocabulary = try Vocabulary.load(loaded.directory.appendingPathComponent(text.vocabulary))
            data = try TextDataset.load(dir, split: ref.split.rawValue, tokenizer: Tokenizer(lowercase: text.lowercase), vocabulary: vocabulary)
        } else {
            data = try compute.registry.load(ref)
        }
        if let l = limit { data = data.prefix(l) }
        Kernels.setBLASThreads(compute.threadCount)
        let start = Date()
        let e: Evaluation
        do {
            e = loaded.config.input.text != nil
                ? Evaluator.evaluate(loaded.model, on: data, normalization: nil)
                : try Evaluator.evaluate(loaded, on: data)
        } catch TrainingError.dataset(let m) {
            throw ValidationError("\(ref): \(m)")
        }
        let seconds = Date().timeIntervalSince(start)
        print(try jsonString(Output(
            model: loaded.name, version: loaded.version, dataset: ref.description, count: e.count, accuracy: e.accuracy,
            loss: e.loss, perClassAccuracy: Dictionary(uniqueKeysWithValues: e.perClass.map { ($0.label, $0.accuracy) }),
            confusion: confusion ? e.confusion : nil, seconds: seconds)))
    }

    struct Output: Encodable {
        var model: String
        var version: Int
        var dataset: String
        var count: Int
        var accuracy: Float
        var loss: Float
        var perClassAccuracy: [String: Float]
        var confusion: [[Int]]?
        var seconds: Double

        enum CodingKeys: String, CodingKey {
            case model, version, dataset, count, accuracy, loss, confusion, seconds
            case perClassAccuracy = "per_class_accuracy"
        }
    }
}
