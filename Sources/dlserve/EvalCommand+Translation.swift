import ArgumentParser
import DLNN
import DLTrain
import DLText
import Foundation

/// `dlserve eval` of a translation model: BLEU and chrF on parallel text.
struct TranslationEvalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Parallel text to score a translation model on (SOURCE<TAB>REFERENCE lines), a detection split's JSON for a detection model, or a folder per person with pairs.txt for an embedding model; overrides --dataset.", valueName: "file"))
    var data: String?

    @Option(name: .long, help: "Beam width for a translation model (1 = greedy).")
    var beamWidth: Int = 4

    @Option(name: .long, help: "Length penalty alpha for a translation model (score / length^alpha).")
    var lengthPenalty: Double = 0.7

    @Option(name: .long, help: ArgumentHelp("Write a translation model's translations here, one a line.", valueName: "file"))
    var translations: String?

    func validate() throws {
        guard (1...64).contains(beamWidth) else { throw ValidationError("--beam-width must be in 1...64, got \(beamWidth)") }
        guard lengthPenalty.isFinite, lengthPenalty >= 0 else {
            throw ValidationError("--length-penalty must be a finite number >= 0, got \(lengthPenalty)")
        }
    }

    func run(_ loaded: LoadedModel, dataset: DatasetReference, limit: Int?, textRoot: URL) throws {
        let file = data.map { URL(fileURLWithPath: $0) }
            ?? textRoot.appendingPathComponent(dataset.name, isDirectory: true).appendingPathComponent("\(dataset.split.rawValue).tsv")
        let pairs: [(source: String, target: String)]
        let subwords: TranslationSubwords
        do {
            pairs = try TranslationPairs.read(file, limit: limit)
            subwords = try TranslationSubwords.load(from: loaded.directory)
        } catch let e as TrainingError {
            throw ValidationError("\(e)")
        } catch {
            throw ValidationError("subword files of \(loaded.directory.path): \(error)")
        }
        let (score, translated) = try TranslationScore.measure(loaded.model, subwords: subwords, pairs: pairs,
                                                              beamWidth: beamWidth, lengthPenalty: lengthPenalty)
        if let translations {
            try AtomicFile.write(Data(translated.map { $0 + "\n" }.joined().utf8), to: URL(fileURLWithPath: translations))
        }
        print(try jsonString(Output(model: loaded.name, version: loaded.version, dataset: data ?? dataset.description, score: score)))
    }

    struct Output: Encodable {
        var model: String
        var version: Int
        var dataset: String
        var score: TranslationScore

        func encode(to encoder: Encoder) throws {
            try score.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(model, forKey: .model)
            try c.encode(version, forKey: .version)
            try c.encode(dataset, forKey: .dataset)
        }

        enum Keys: String, CodingKey { case model, version, dataset }
    }
}
