import DLNN
import DLTensor
import DLText
@testable import DLTrain
import XCTest

/// Skip-gram training: convergence on a corpus of known structure, the
/// corpus reader, and the recipe from a file to a published model.
final class SkipGramTrainingTests: XCTestCase {
    static let animals = ["cat", "dog", "horse", "cow", "sheep", "goat"]
    static let vehicles = ["car", "bus", "train", "truck", "plane", "boat"]

    /// 600 sentences of 8 words, each drawn from one topic only: words of a
    /// topic co-occur, words of different topics never do.
    static func topicSentences(seed: UInt64 = 3) -> [[String]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<600).map { i in
            let topic = i % 2 == 0 ? animals : vehicles
            return (0..<8).map { _ in topic[Int(rng.next() % UInt64(topic.count))] }
        }
    }

    static func cosine(_ t: Tensor, _ vocab: Vocabulary, _ a: String, _ b: String) -> Double {
        let d = t.shape[1], i = vocab.id(a), j = vocab.id(b)
        let u = t.data[(i * d)..<((i + 1) * d)].map(Double.init), v = t.data[(j * d)..<((j + 1) * d)].map(Double.init)
        let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (u.reduce(0) { $0 + $1 * $1 }.squareRoot() * v.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }

    struct Run {
        var vectors: Tensor
        var vocabulary: Vocabulary
        var epochs: [SkipGramTrainer.Epoch]
        /// `SkipGramTrainer.evaluate` before and after training.
        var lossBefore: Double
        var lossAfter: Double
    }

    func train(optimizer: String, lr: Float) throws -> Run {
        let corpus = SkipGramCorpus(sentences: Self.topicSentences())
        var o = SkipGramTrainer.Options()
        o.dim = 16; o.window = 3; o.negatives = 5; o.epochs = 5; o.optimizer = optimizer; o.lr = lr; o.seed = 2
        let trainer = SkipGramTrainer(corpus: corpus, options: o)
        let before = trainer.evaluate()
        let epochs = try trainer.train()
        return Run(vectors: trainer.vectors, vocabulary: corpus.vocabulary, epochs: epochs, lossBefore: before, lossAfter: trainer.evaluate())
    }

    func assertTopicsSeparate(_ run: Run, _ what: String) {
        let (t, vocab) = (run.vectors, run.vocabulary)
        var within: [Double] = [], across: [Double] = []
        for topic in [Self.animals, Self.vehicles] {
            for a in topic { for b in topic where a < b { within.append(Self.cosine(t, vocab, a, b)) } }
        }
        for a in Self.animals { for b in Self.vehicles { across.append(Self.cosine(t, vocab, a, b)) } }
        let minWithin = within.min()!, maxAcross = across.max()!
        // Every pair that co-occurs is closer than every pair that never does, by a margin.
        XCTAssertGreaterThan(minWithin, maxAcross + 0.3, "\(what): within \(minWithin), across \(maxAcross)")
        // Before training θ = 0: (1 + k) log 2 = 4.159 on every pair.
        XCTAssertEqual(run.lossBefore, 6 * log(2.0), accuracy: 1e-5)
        // The least expected loss here: a context is one of the 6 words of the centre's
        // topic (1/6 each), noise any of the 12 (1/12 each). The best logistic unit gives an
        // in-topic word σ = p / (p + k q) = (1/6) / (1/6 + 5/12) = 2/7 and an off-topic
        // word σ -> 0, so L* = -log(2/7) + 5 * (1/2) * -log(5/7) = 1.2528 + 0.8412 = 2.094.
        // After training the loss on the same pairs and noise is within 5% of L*.
        let best = -log(2.0 / 7) - 2.5 * log(5.0 / 7)
        XCTAssertLessThan(run.lossAfter, 1.05 * best, "\(what): \(run.lossBefore) -> \(run.lossAfter)")
        XCTAssertLessThanOrEqual(run.epochs.last!.loss, run.epochs.first!.loss, "\(what): \(run.epochs.map(\.loss))")
        print("\(what): loss \(run.lossBefore) -> \(run.lossAfter); epochs \(run.epochs.map(\.loss)); within >= \(minWithin), across <= \(maxAcross)")
    }

    func testSGDSeparatesWordsThatNeverCoOccur() throws {
        let run = try train(optimizer: "sgd", lr: 0.05)
        assertTopicsSeparate(run, "sgd")
        XCTAssertEqual(Array(run.vectors.data[0..<(2 * 16)]), [Float](repeating: 0, count: 32), "<pad> and <unk> stay zero")
    }

    func testAdamSeparatesWordsThatNeverCoOccur() throws {
        assertTopicsSeparate(try train(optimizer: "adam", lr: 0.01), "adam")
    }

    func testTrainingIsDeterministic() throws {
        let a = try train(optimizer: "sgd", lr: 0.05), b = try train(optimizer: "sgd", lr: 0.05)
        XCTAssertEqual(a.vectors.data, b.vectors.data)
        XCTAssertEqual(a.epochs.map(\.loss), b.epochs.map(\.loss))
    }

    func testSubsamplingDropsFrequentWords() throws {
        // "the" is half of the corpus; with t = 1e-3 most of its occurrences go.
        let sentences = (0..<200).map { i in ["the", "w\(i % 50)", "the", "v\(i % 40)"] }
        let corpus = SkipGramCorpus(sentences: sentences)
        var o = SkipGramTrainer.Options()
        o.dim = 4; o.epochs = 1; o.subsample = 1e-3
        let keep = try XCTUnwrap(SkipGramTrainer(corpus: corpus, options: o).keepProbabilities())
        XCTAssertLessThan(keep[corpus.vocabulary.id("the")], 0.1)
        o.subsample = 0
        XCTAssertNil(SkipGramTrainer(corpus: corpus, options: o).keepProbabilities())
    }

    func testCorpusReaderTakesAColumnAndDropsRareWords() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-sg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.tsv")
        try "positive\tA good film.\nnegative\tA bad film\n\n".write(to: file, atomically: true, encoding: .utf8)
        let sentences = try SkipGramCorpus.read(file, column: 1)
        XCTAssertEqual(sentences, [["a", "good", "film", "."], ["a", "bad", "film"]])
        let corpus = SkipGramCorpus(sentences: sentences, minCount: 2)
        XCTAssertEqual(corpus.vocabulary.words, ["<pad>", "<unk>", "a", "film"])
        XCTAssertEqual(corpus.sentences, [[2, 3], [2, 3]])
        XCTAssertThrowsError(try SkipGramCorpus.read(file, column: 2))
    }
}
