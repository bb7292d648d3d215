@testable import DLText
import XCTest

final class BPELearnerTests: XCTestCase {
    /// Sennrich et al.'s example: low x5, lower x2, newest x6, widest x3.
    static let textbook = Array(repeating: "low", count: 5) + Array(repeating: "lower", count: 2)
        + Array(repeating: "newest", count: 6) + Array(repeating: "widest", count: 3)

    func testTextbookMergesByHand() {
        // Pieces: ▁low 5, ▁lower 2, ▁newest 6, ▁widest 3. Ids (no byte fallback): ▁ 4,
        // then by frequency e 5 (17), w 6 (16), s 7 (9), t 8 (9), l 9 (7), o 10 (7),
        // n 11 (6), d 12 (3), i 13 (3), r 14 (2).
        // Pair counts: e·s 9, s·t 9, w·e 8, ▁·l 7, l·o 7, o·w 7, ▁·n 6, n·e 6, e·w 6, ...
        // 1. e·s 9 (ties s·t 9; left e=5 < s=7)          -> es
        // 2. es·t 9                                       -> est
        // 3. 7s: ▁·l (4,9), l·o (9,10), o·w (10,6)        -> ▁l
        // 4. ▁l·o (17,10) vs o·w (10,6): left 10 < 17     -> ow
        // 5. ▁l·ow 7                                      -> ▁low
        // 6. 6s: ▁·n (4,11), n·e, e·w, w·est               -> ▁n
        // 7. ▁n·e (20,11), e·w (5,6), w·est (6,16)        -> ew
        // 8. ▁n·ew (20,21) vs ew·est (21,16)              -> ▁new
        // 9. ▁new·est 6                                   -> ▁newest
        // 10. 3s: ▁·w (4,6), w·i, i·d (13,12), d·est (12,16) -> ▁w
        // 11. ▁w·i (24,13), i·d (13,12), d·est (12,16)    -> dest
        // 12. ▁w·i (24,13) vs i·dest (13,25)              -> idest
        // 13. ▁w·idest 3                                  -> ▁widest
        // 14. 2s: ▁low·e (19,5), e·r (5,14)               -> er
        // 15. ▁low·er 2                                   -> ▁lower
        let model = BPELearner.learn(Self.textbook, options: BPEOptions(merges: 100, minFrequency: 1, byteFallback: false))
        XCTAssertEqual(Array(model.vocabulary.words[4...14]), ["▁", "e", "w", "s", "t", "l", "o", "n", "d", "i", "r"])
        XCTAssertEqual(model.mergeStrings.map { "\($0.0) \($0.1)" }, [
            "e s", "es t", "▁ l", "o w", "▁l ow", "▁ n", "e w", "▁n ew", "▁new est",
            "▁ w", "d est", "i dest", "▁w idest", "e r", "▁low er",
        ])
        let tok = BPETokenizer(model: model)
        // The classic: an unseen word from known parts.
        XCTAssertEqual(tok.tokens("lowest"), ["▁low", "est"])
        XCTAssertEqual(tok.tokens("newer wider"), ["▁new", "er", "▁w", "i", "d", "er"])
        XCTAssertEqual(tok.tokens("low newest"), ["▁low", "▁newest"])
    }

    func testStopsAtMinFrequencyMergeCountAndVocabularySize() {
        let opts = BPEOptions(merges: 100, minFrequency: 6, byteFallback: false)
        // Pairs seen 6 times or more: merges 1-9 above.
        XCTAssertEqual(BPELearner.learn(Self.textbook, options: opts).merges.count, 9)
        XCTAssertEqual(BPELearner.learn(Self.textbook, options: BPEOptions(merges: 3, minFrequency: 1, byteFallback: false))
            .mergeStrings.map(\.0), ["e", "es", "▁"])
        let sized = BPELearner.learn(Self.textbook, options: BPEOptions(merges: 100, vocabularySize: 20, minFrequency: 1, byteFallback: false))
        XCTAssertEqual(sized.count, 20)
        let bytes = BPELearner.learn(Self.textbook, options: BPEOptions(merges: 2, minFrequency: 1))
        XCTAssertEqual(bytes.count, 4 + 256 + 11 + 2)
        XCTAssertEqual(bytes.vocabulary.words[4], "<0x00>")
        XCTAssertEqual(bytes.vocabulary.words[259], "<0xFF>")
    }

    func testDeterministicAndIndependentOfOrder() {
        let corpus = SubwordCorpus.sentences(count: 400, seed: 7)
        let opts = BPEOptions(merges: 300, minFrequency: 2)
        let a = BPELearner.learn(corpus, options: opts)
        let b = BPELearner.learn(corpus, options: opts)
        var rng = SplitMix64(seed: 3)
        let c = BPELearner.learn(corpus.shuffled(using: &rng), options: opts)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a, c)
        XCTAssertGreaterThan(a.merges.count, 100)  // fewer than 300: every word is one token by then
    }

    func testFastLearnerMatchesReferenceAndEncodingMatchesLearning() {
        for seed in 1...6 as ClosedRange<UInt64> {
            let corpus = SubwordCorpus.sentences(count: 150, seed: seed)
            let counts = BPELearner.countPieces(corpus)
            let opts = BPEOptions(merges: 250, minFrequency: 1, byteFallback: seed % 2 == 0)
            let fast = BPELearner.learn(counts: counts, options: opts)
            let (reference, segmentation) = BPELearner.learnReference(counts: counts, options: opts)
            XCTAssertEqual(fast.mergeStrings.map { "\($0.0) \($0.1)" }, reference.mergeStrings.map { "\($0.0) \($0.1)" }, "seed \(seed)")
            XCTAssertEqual(fast, reference)
            let tok = BPETokenizer(model: fast)
            for (piece, symbols) in segmentation {
                XCTAssertEqual(tok.encode(piece: piece), symbols, "\(piece)")
            }
        }
    }

    func testRepeatedSymbolsMergeLeftToRight() {
        // "aaaaa" x3: a·a is seen 4 times per piece (overlapping) but merges as aa aa a.
        let model = BPELearner.learn(["aaaaa", "aaaaa", "aaaaa"], options: BPEOptions(merges: 10, minFrequency: 1, byteFallback: false))
        let (reference, _) = BPELearner.learnReference(counts: BPELearner.countPieces(["aaaaa", "aaaaa", "aaaaa"]),
                                                       options: BPEOptions(merges: 10, minFrequency: 1, byteFallback: false))
        XCTAssertEqual(model, reference)
        XCTAssertEqual(model.mergeStrings.first.map { "\($0.0) \($0.1)" }, "a a")
        XCTAssertEqual(BPETokenizer(model: model).tokens("aaaaa"), ["▁aaaaa"])
    }
}
