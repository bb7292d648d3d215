import ArgumentParser
import DLNN
import DLTrain
import DLText
import Foundation

/// `dlserve predict` with a translation model: each argument is an English
/// text; one JSON line per text with its translation and score.
struct TranslationPredictOptions: ParsableArguments {
    @Option(name: .long, help: "Beam width for a translation model (1 = greedy).")
    var beamWidth: Int = 4

    @Option(name: .long, help: "Length penalty alpha for a translation model (score = log P / length^alpha).")
    var lengthPenalty: Double = 0.7

    @Option(name: .long, help: "How many translations to list per text (at most --beam-width).")
    var nBest: Int = 1

    func validate() throws {
        guard (1...64).contains(beamWidth) else { throw ValidationError("--beam-width must be in 1...64, got \(beamWidth)") }
        guard (1...beamWidth).contains(nBest) else { throw ValidationError("--n-best must be in 1...\(beamWidth) (--beam-width), got \(nBest)") }
        guard lengthPenalty.isFinite, lengthPenalty >= 0 else {
            throw ValidationError("--length-penalty must be a finite number >= 0, got \(lengthPenalty)")
        }
    }

    func run(_ loaded: LoadedModel, texts: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for line in try lines(loaded, texts: texts) { print(String(decoding: try encoder.encode(line), as: UTF8.self)) }
    }

    func lines(_ loaded: LoadedModel, texts: [String]) throws -> [Line] {
        let subwords: TranslationSubwords
        do { subwords = try TranslationSubwords.load(from: loaded.directory) } catch {
            throw ValidationError("subword files of \(loaded.directory.path): \(error)")
        }
        let maxLength = loaded.config.input.text?.maxLength ?? 256
        let sources = try texts.enumerated().map { i, t -> [Int] in
            guard !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("text \(i + 1) is empty") }
            let ids = subwords.encodeSource(t)
            guard ids.count <= maxLength else {
                throw ValidationError("text \(i + 1) has \(ids.count) subword tokens, more than the model's max_length \(maxLength)")
            }
            return ids
        }
        var options = TranslationEvaluation.greedyOptions()
        options.beamWidth = beamWidth
        options.nBest = beamWidth == 1 ? 1 : nBest
        options.lengthPenalty = lengthPenalty
        let results = try TranslationEvaluation.decodeAll(loaded.model, sources: sources, options: options)
        return zip(texts, results).map { text, result in
            let list = result.hypotheses.map { Line.Candidate(translation: subwords.decodeTarget(Array($0.content)), score: $0.score) }
            return Line(text: text, model: loaded.name, version: loaded.version, translation: list.first?.translation ?? "",
                        score: list.first?.score ?? 0, nBest: nBest > 1 ? list : nil)
        }
    }

    struct Line: Encodable {
        struct Candidate: Encodable { var translation: String; var score: Double }
        var text: String
        var model: String
        var version: Int
        var translation: String
        var score: Double
        var nBest: [Candidate]?
        enum CodingKeys: String, CodingKey {
            case text, model, version, translation, score
            case nBest = "n_best"
        }
    }
}
