import DLNN
import DLTensor
import DLText
@testable import DLTrain
import XCTest

/// The RNN encoder-decoder family (bidirectional GRU encoder, GRU decoder,
/// additive attention, Luong-style output layer; the graph of
/// recipes/translate-en-es-rnn.json at toy size) through the same recipe run
/// as the transformer: the loss falls, the carried-state decoder translates
/// like full recomputation, and a resumed run ends with the weights of an
/// uninterrupted one.
final class RNNTranslationTrainingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-rnn-mt-\(UUID().uuidString)")
        try TranslationTrainingTests.writeToyPairs(to: dir)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// The shipped recipe's graph with its sizes cut to `dim`.
    static func model(dim: Int = 32) throws -> ModelSpec {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/translate-en-es-rnn.json")
        var spec = try TranslationRecipe.parse(Data(contentsOf: url)).model
        for i in spec.layers.indices {
            for key in ["dim", "hidden_size", "units"] where spec.layers[i].attrs[key] == 256 {
                spec.layers[i].attrs[key] = JSONValue(integerLiteral: dim)
            }
        }
        return spec
    }

    func recipe(epochs: Int) throws -> TranslationRecipe {
        TranslationRecipe(
            name: "toy-rnn-mt", data: .init(dir: dir.path, train: "train.tsv", dev: "dev.tsv", bleuSentences: 10),
            subwords: .init(merges: 200, shared: false), model: try Self.model(),
            optimizer: .init(lr: 3e-3, warmupSteps: 30, clipNorm: 1), labelSmoothing: 0, batchTokens: 300, epochs: epochs, seed: 3)
    }

    func testTheLossFallsAndTheCarriedStateDecoderTranslates() throws {
        let repository = ModelRepository(root: dir.appendingPathComponent("models"))
        let outcome = try recipe(epochs: 12).run(base: dir, repository: repository)
        let h = outcome.history
        print("toy RNN translation: " + h.map {
            "epoch \($0.epoch) train \($0.trainLoss) dev \($0.devLoss) acc \($0.devAccuracy) bleu \($0.devBLEU ?? -1)"
        }.joined(separator: "\n"))
        XCTAssertLessThan(h.last!.trainLoss, h.first!.trainLoss / 3, "training loss falls")
        XCTAssertLessThan(h.last!.devLoss, h.first!.devLoss / 3, "dev loss falls")

        let loaded = try repository.load("toy-rnn-mt", version: outcome.version)
        let subwords = try TranslationSubwords.load(from: repository.directory(of: "toy-rnn-mt", version: outcome.version))
        let sources = ["big red car", "the old sea", "cat dog sun sky new"].map { subwords.encodeSource($0) }
        let recomputed = TranslationEvaluation.greedyByRecomputation(loaded.model, sources: sources)
        XCTAssertEqual(try TranslationEvaluation.greedy(loaded.model, sources: sources), recomputed)
        let decoder = try makeIncrementalDecoder(model: loaded.model)
        guard case .recurrent = decoder else { return XCTFail("the RNN graph gets the recurrent stepper") }
        let options = DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: 1,
                                      maxLength: 2 * sources.map(\.count).max()! + 10)
        let stepped = try decode(decoder, sources: sources, options: options).map { Array($0.hypotheses[0].content) }
        XCTAssertEqual(stepped, recomputed)
        print("toy RNN translation: big red car -> \(subwords.decodeTarget(stepped[0]))")
    }

    func testAResumedRunEndsWithTheWeightsOfAnUninterruptedOne() throws {
        let whole = ModelRepository(root: dir.appendingPathComponent("whole"))
        let parts = ModelRepository(root: dir.appendingPathComponent("parts"))
        let checkpoint = dir.appendingPathComponent("ckpt.safetensors")
        let a = try recipe(epochs: 3).run(base: dir, repository: whole)
        try recipe(epochs: 1).run(base: dir, repository: parts, checkpoint: checkpoint)
        XCTAssertEqual(try TranslationCheckpoint.load(from: checkpoint).epochsCompleted, 1)
        let b = try recipe(epochs: 3).run(base: dir, repository: parts, checkpoint: checkpoint)
        XCTAssertEqual(a.history.map(\.trainLoss), b.history.map(\.trainLoss))
        XCTAssertEqual(a.history.map(\.devLoss), b.history.map(\.devLoss))
        let wa = try Safetensors.read(contentsOf: whole.directory(of: "toy-rnn-mt", version: a.version).appendingPathComponent("weights.safetensors"))
        let wb = try Safetensors.read(contentsOf: parts.directory(of: "toy-rnn-mt", version: b.version).appendingPathComponent("weights.safetensors"))
        XCTAssertEqual(Set(wa.tensors.keys), Set(wb.tensors.keys))
        for (k, t) in wa.tensors { XCTAssertEqual(t.data, wb.tensors[k]!.data, k) }
    }
}
