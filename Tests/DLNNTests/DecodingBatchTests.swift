import DLNN
import DLTensor
import XCTest

/// Batching, the cache contract (no prefix replayed), cancellation, and an
/// exhaustive check that a beam as wide as the search space finds the best.
final class DecodingBatchTests: XCTestCase {
    let sources = [[4, 5], [7], [1, 2, 3, 4, 5, 6], [], [9, 9, 9]]

    func options(_ beam: Int, nBest: Int = 1, alpha: Double = 0, maxLength: Int = 8, minLength: Int = 0) -> DecodingOptions {
        DecodingOptions(startToken: Toy.start, endToken: Toy.end, beamWidth: beam, lengthPenalty: alpha,
                        nBest: nBest, maxLength: maxLength, minLength: minLength)
    }

    /// Sources of different lengths decoded together give exactly what each
    /// gives alone, for greedy and beam search: rows never mix.
    func testBatchEqualsOneAtATime() throws {
        for (beam, nBest, alpha) in [(1, 1, 0.0), (3, 2, 0.7), (4, 4, 1.0)] {
            let o = options(beam, nBest: nBest, alpha: alpha)
            let batched = TableDecoder.random(vocabularySize: 6, seed: 42)
            let together = try decode(batched, sources: sources, options: o)
            XCTAssertEqual(batched.log.startCalls, 1)
            for (i, source) in sources.enumerated() {
                let alone = try decode(TableDecoder.random(vocabularySize: 6, seed: 42), sources: [source], options: o)
                XCTAssertEqual(together[i], alone[0], "source \(i), beam \(beam)")
            }
            // One model step per step of the longest search.
            XCTAssertEqual(batched.log.steps, together.map(\.steps).max())
            XCTAssertEqual(together.map { $0.hypotheses.count }, sources.map { _ in nBest })
        }
    }

    /// Each step feeds one token per row and nothing else: the cache of every
    /// row grows by exactly one entry, no row is restarted, and the row that
    /// produced the winner's last token held exactly the winner's prefix.
    /// Greedy feeds T tokens for a T-token output (a decoder that replayed
    /// its prefix would feed T(T+1)/2).
    func testNoPrefixIsRecomputed() throws {
        let greedyModel = TableDecoder.random(vocabularySize: 6, seed: 3)
        let greedy = try decode(greedyModel, sources: [[1, 2]], options: options(1, maxLength: 12))[0]
        XCTAssertEqual(greedyModel.log.entriesComputed, greedy.best!.tokens.count)
        XCTAssertEqual(greedyModel.log.entriesRecomputed, 0)

        let model = TableDecoder.random(vocabularySize: 6, seed: 5)
        let result = try decode(model, sources: [[3]], options: options(4, nBest: 3, alpha: 0.7, maxLength: 12))[0]
        XCTAssertEqual(model.log.startCalls, 1)
        XCTAssertEqual(model.log.entriesRecomputed, 0)
        XCTAssertEqual(model.log.entriesComputed, model.log.rowsPerStep.reduce(0, +))
        for (k, rows) in model.log.fedAfterStep.enumerated() {
            XCTAssertTrue(rows.allSatisfy { $0.count == k + 1 }, "step \(k): \(rows.map(\.count))")
        }
        for h in result.hypotheses {
            let last = h.tokens.count - 1
            XCTAssertTrue(model.log.fedAfterStep[last].contains([Toy.start] + h.tokens.dropLast()), "\(h.tokens)")
        }
    }

    /// The checkpoint runs before every step; what it throws stops decoding.
    func testCheckpointStopsDecoding() {
        for beam in [1, 3] {
            let model = TableDecoder.fixed([:], otherwise: [0, 0.5, 0.5])  // never ends
            var calls = 0
            XCTAssertThrowsError(
                try decode(model, sources: [[1], [2]], options: options(beam, maxLength: 100)) {
                    calls += 1
                    if calls == 4 { throw DecodingInterrupted.deadlineExceeded }
                }
            ) { error in
                XCTAssertEqual(error as? DecodingInterrupted, .deadlineExceeded)
            }
            XCTAssertEqual(model.log.steps, 3)
        }
    }

    /// A beam as wide as V^L keeps every prefix, so it must return the true
    /// n best of all sequences up to length L, found by enumeration.
    func testWideBeamFindsTheTrueBest() throws {
        let v = 4, l = 4
        for seed in UInt64(1)...6 {
            for alpha in [0.0, 0.7, 1.0] {
                for minLength in [0, 2] {
                    let model = TableDecoder.random(vocabularySize: v, seed: seed)
                    let o = options(Int(pow(Double(v), Double(l))), nBest: 5, alpha: alpha, maxLength: l, minLength: minLength)
                    let exact = Array(bruteForceBest(model, source: [Int(seed)], options: o).prefix(5))
                    let found = try decode(model, sources: [[Int(seed)]], options: o)[0].hypotheses
                    XCTAssertEqual(found.map(\.tokens), exact.map(\.tokens), "seed \(seed) alpha \(alpha) min \(minLength)")
                    for (f, e) in zip(found, exact) {
                        XCTAssertEqual(f.score, e.score, accuracy: 1e-12)
                        XCTAssertEqual(f.tokenLogProbabilities, e.tokenLogProbabilities)
                        XCTAssertEqual(f.ended, e.ended)
                    }
                }
            }
        }
    }

    /// A narrow beam never scores above the exhaustive best (sanity of the
    /// comparison above) and, with the exact stopping rule, a wider beam
    /// never does worse on these tables.
    func testNarrowBeamIsNoBetterThanExhaustive() throws {
        for seed in UInt64(10)...20 {
            let model = TableDecoder.random(vocabularySize: 5, seed: seed)
            let exact = bruteForceBest(model, source: [], options: options(1, alpha: 0.7, maxLength: 4))[0]
            let narrow = try decode(model, sources: [[]], options: options(2, alpha: 0.7, maxLength: 4))[0].best!
            XCTAssertLessThanOrEqual(narrow.score, exact.score + 1e-12)
        }
    }
}
