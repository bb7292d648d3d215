import DLKernels
import DLNN
import DLText
@testable import DLTrain
import XCTest

/// Opt-in sizing run of the shipped recipe on the prepared data
/// (`DLSERVE_MT_SPEED=1`; data/translate-en-es in the repository root; another
/// recipe with `DLSERVE_MT_RECIPE`, more BLAS threads with `DLSERVE_MT_THREADS`):
/// times subword learning and encoding, then trains 30 batches on one BLAS
/// thread and prints tokens/s and the implied seconds per epoch.
final class TranslationSpeedTests: XCTestCase {
    func testShippedRecipeSpeed() throws {
        guard ProcessInfo.processInfo.environment["DLSERVE_MT_SPEED"] == "1" else { throw XCTSkip("set DLSERVE_MT_SPEED=1") }
        let root = TranslationRecipeTests.root
        let env = ProcessInfo.processInfo.environment
        let path = env["DLSERVE_MT_RECIPE"] ?? "recipes/translate-en-es.json"
        let recipe = try TranslationRecipe.parse(Data(contentsOf: path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)))
        Kernels.setBLASThreads(Int(env["DLSERVE_MT_THREADS"] ?? "1") ?? 1)
        var t = Date()
        let urls = recipe.dataURLs(base: root)
        let text = try TranslationPairs.read(urls.train, limit: recipe.data.limit)
        let subwords = TranslationSubwords.learn(text, shared: recipe.subwords.shared, options: BPEOptions(merges: recipe.subwords.merges))
        print("subwords: \(text.count) pairs, vocabulary \(subwords.source.model.count), learned in \(Date().timeIntervalSince(t)) s")
        t = Date()
        let train = TranslationPairs.encode(text, with: subwords, maxLength: recipe.data.maxLength)
        let src = train.reduce(0) { $0 + $1.source.count }, tgt = train.reduce(0) { $0 + $1.target.count }
        print("encoded \(train.count) pairs in \(Date().timeIntervalSince(t)) s: \(src) source + \(tgt) target tokens")
        let spec = recipe.resolvedModel(sourceVocabulary: subwords.source.model.count, targetVocabulary: subwords.target.model.count)
        let model = try GraphModel(spec: spec, seed: 1)
        let trainer = TranslationTrainer(model: model, train: train, dev: [], options: .init(
            epochs: 1, seed: recipe.seed, batchTokens: recipe.batchTokens, labelSmoothing: recipe.labelSmoothing, optimizer: recipe.optimizer))
        var last: TranslationTrainer.Progress?
        trainer.onProgress = { last = $0 }
        trainer.isCancelled = { (last?.batch ?? -1) >= 29 }
        XCTAssertThrowsError(try trainer.fit())
        let p = last!
        print("parameters \(model.parameterCount); \(trainer.batches.count) batches an epoch; 30 batches at \(p.tokensPerSecond) tokens/s "
              + "(loss \(p.loss)); an epoch ~ \(Double(src + tgt) / p.tokensPerSecond) s")
    }
}
