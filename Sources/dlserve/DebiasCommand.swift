import ArgumentParser
import DLTasks
import Foundation

/// `dlserve debias --from models/glove-6b-50d --to models/glove-6b-50d-debiased
/// --pair man:woman --neutralize-all --equalize boy:girl`: a debiased copy of
/// a word-vector model as a new model (`WordVectorModel.writeDebiased`).
struct DebiasCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debias",
        abstract: "Write a debiased copy of a word-vector model as a new model.",
        discussion: """
            The bias direction is the mean of e_b - e_a over the --pair words; the --neutral words (or, with \
            --neutralize-all, every word but the pairs' and the --keep words) lose their projection on it, and \
            the --equalize pairs become equidistant from them (Bolukbasi et al. 2016). The new model directory \
            is written out of sight and renamed into place; it must not exist. Prints what was done as JSON.
            """)

    @Option(name: .long, help: ArgumentHelp("The word-vector model directory to read (its highest version).", valueName: "dir"))
    var from: String

    @Option(name: .long, help: ArgumentHelp("The new model directory; its name is the model's.", valueName: "dir"))
    var to: String

    @Option(name: .customLong("pair"), help: ArgumentHelp("A definitional pair a:b of the bias direction (repeat).", valueName: "a:b"))
    var pairs: [String] = []

    @Option(name: .customLong("neutral"), help: ArgumentHelp("A word to neutralize (repeat).", valueName: "word"))
    var neutral: [String] = []

    @Flag(name: .long, help: "Neutralize every word but the pairs' words and the --keep words.")
    var neutralizeAll = false

    @Option(name: .long, help: ArgumentHelp("With --neutralize-all, a word to leave as it is (repeat).", valueName: "word"))
    var keep: [String] = []

    @Option(name: .customLong("equalize"), help: ArgumentHelp("A pair a:b to equalize (repeat).", valueName: "a:b"))
    var equalize: [String] = []

    static func pair(_ s: String, _ option: String) throws -> (String, String) {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValidationError("--\(option) \(s): expected two words as a:b")
        }
        return (parts[0], parts[1])
    }

    func validate() throws {
        guard !pairs.isEmpty else { throw ValidationError("give at least one --pair a:b") }
        for p in pairs { _ = try Self.pair(p, "pair") }
        for p in equalize { _ = try Self.pair(p, "equalize") }
        if neutralizeAll, !neutral.isEmpty { throw ValidationError("give --neutral words or --neutralize-all, not both") }
        if !neutralizeAll, !keep.isEmpty { throw ValidationError("--keep needs --neutralize-all") }
        if !neutralizeAll, neutral.isEmpty, equalize.isEmpty { throw ValidationError("nothing to do: give --neutral, --neutralize-all or --equalize") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: from, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("--from \(from) is not a directory")
        }
        guard !FileManager.default.fileExists(atPath: to) else { throw ValidationError("--to \(to) already exists") }
    }

    func run() throws {
        let summary: WordVectorModel.DebiasSummary
        do {
            summary = try WordVectorModel.writeDebiased(
                from: URL(fileURLWithPath: from, isDirectory: true), to: URL(fileURLWithPath: to, isDirectory: true),
                pairs: try pairs.map { try Self.pair($0, "pair") },
                neutral: neutralizeAll ? .allExcept(keep) : .words(neutral),
                equalize: try equalize.map { try Self.pair($0, "equalize") })
        } catch let e as WordVectorModel.Failure {
            throw ValidationError(e.message)
        }
        print(try jsonString(summary))
    }
}
