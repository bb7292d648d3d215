import DLNN
import DLTensor
import Foundation
import XCTest

/// Greedy and beam search on hand-set probability tables over
/// {<s> 0, </s> 1, a 2, b 3}; every expected beam is traced in a comment.
final class BeamSearchTests: XCTestCase {
    /// The classic case: the most likely first word does not start the most
    /// likely sentence.
    ///   P(.|<s>) = </s> .1, a .5,  b .4
    ///   P(.|a)   = </s> .4, a .35, b .25
    ///   P(.|b)   = </s> .9, a .05, b .05
    ///   otherwise  </s> .7, a .15, b .15
    let classic = [[]: [0.1, 0.5, 0.4], [Toy.a]: [0.4, 0.35, 0.25], [Toy.b]: [0.9, 0.05, 0.05]]
    let otherwise = [0.7, 0.15, 0.15]
    func options(_ beam: Int, nBest: Int = 1, alpha: Double = 0, maxLength: Int = 10, minLength: Int = 0) -> DecodingOptions {
        DecodingOptions(startToken: Toy.start, endToken: Toy.end, beamWidth: beam, lengthPenalty: alpha,
                        nBest: nBest, maxLength: maxLength, minLength: minLength)
    }
    /// log P as the search sums it: Float per token, Double sum.
    func logP(_ ps: Double...) -> Double { ps.reduce(0.0) { $0 + Double(Float(log($1))) } }

    func testGreedyDiffersFromBeam() throws {
        // Greedy: a (.5), then </s> (.4 is the top of P(.|a)): "a </s>", P = .2.
        let model = TableDecoder.fixed(classic, otherwise: otherwise)
        let greedy = try decode(model, sources: [[]], options: options(1))[0]
        XCTAssertEqual(greedy.best?.tokens, [Toy.a, Toy.end])
        XCTAssertEqual(greedy.best!.logProbability, logP(0.5, 0.4), accuracy: 1e-9)
        XCTAssertEqual(greedy.best!.tokenLogProbabilities, [Float(log(0.5)), Float(log(0.4))])
        // B = 2. Step 1 ranks a .5, b .4, </s> .1 (rank 2, outside the beam):
        // live {a, b}. Step 2 ranks b</s> .36, a</s> .2 (both finished),
        // aa .175, ab .125 (live). The best live .175 < .36: stop.
        let beam = try decode(model, sources: [[]], options: options(2))[0]
        XCTAssertEqual(beam.best?.tokens, [Toy.b, Toy.end])
        XCTAssertEqual(beam.best!.logProbability, logP(0.4, 0.9), accuracy: 1e-9)
        XCTAssertEqual(beam.best!.score, beam.best!.logProbability)
        XCTAssertEqual(Array(beam.best!.content), [Toy.b])
        XCTAssertEqual(beam.steps, 2)
        XCTAssertEqual(beam.hypotheses.count, 1)
    }

    func testNBestOrdering() throws {
        let model = TableDecoder.fixed(classic, otherwise: otherwise)
        // B = 2, n = 2: the two finished at step 2, and the best live (aa,
        // .175) is below the second (.2): stop.
        let two = try decode(model, sources: [[]], options: options(2, nBest: 2))[0]
        XCTAssertEqual(two.hypotheses.map(\.tokens), [[Toy.b, Toy.end], [Toy.a, Toy.end]])
        // B = 3, n = 3. Step 1: </s> .1 is rank 2 < 3, finished; live {a, b}.
        // Step 2: b</s> .36, a</s> .2 finished; live aa .175, ab .125, ba .02
        // (ba before bb on the tie: lower token). Finished {.36, .2, .1},
        // best live .175 > .1: go on. Step 3: aa</s> .1225 finished (takes
        // the place of </s> .1), ab</s> .0875 ranks below; live aaa .02625...
        // below .1225: stop.
        let three = try decode(model, sources: [[]], options: options(3, nBest: 3))[0]
        XCTAssertEqual(three.hypotheses.map(\.tokens), [[Toy.b, Toy.end], [Toy.a, Toy.end], [Toy.a, Toy.a, Toy.end]])
        let expected = [logP(0.4, 0.9), logP(0.5, 0.4), logP(0.5, 0.35, 0.7)]
        for (h, e) in zip(three.hypotheses, expected) { XCTAssertEqual(h.score, e, accuracy: 1e-9) }
        XCTAssertEqual(three.steps, 3)
        XCTAssertTrue(three.hypotheses.allSatisfy(\.ended))
    }

    /// P(.|<s>) = </s> .4, a .6; P(.|a) = </s> .6, a .4; P(.|aa) = </s> .5, a .5;
    /// b never. Max length 3, so the outputs are </s> (.4), a</s> (.36),
    /// aa</s> (.12) and aaa cut (.12).
    ///   alpha 0: </s> wins, log .4 = -0.916 > log .36 = -1.022.
    ///   alpha 1: a</s> wins, -1.022 / 2 = -0.511 > -0.916 (</s>) and
    ///            -2.120 / 3 = -0.707 (aa</s>, aaa).
    ///   alpha 0.7: a</s> still wins, -1.022 / 2^0.7 = -0.629.
    func testLengthNormalisationChangesTheWinner() throws {
        let model = TableDecoder.fixed(
            [[]: [0.4, 0.6, 0], [Toy.a]: [0.6, 0.4, 0], [Toy.a, Toy.a]: [0.5, 0.5, 0]], otherwise: [1, 0, 0])
        let plain = try decode(model, sources: [[]], options: options(2, maxLength: 3))[0]
        XCTAssertEqual(plain.best?.tokens, [Toy.end])
        XCTAssertEqual(plain.best!.score, logP(0.4), accuracy: 1e-9)
        let perToken = try decode(model, sources: [[]], options: options(2, alpha: 1, maxLength: 3))[0]
        XCTAssertEqual(perToken.best?.tokens, [Toy.a, Toy.end])
        XCTAssertEqual(perToken.best!.score, logP(0.6, 0.6) / 2, accuracy: 1e-9)
        XCTAssertEqual(perToken.best!.logProbability, logP(0.6, 0.6), accuracy: 1e-9)
        let course = try decode(model, sources: [[]], options: options(2, alpha: 0.7, maxLength: 3))[0]
        XCTAssertEqual(course.best?.tokens, [Toy.a, Toy.end])
        XCTAssertEqual(course.best!.score, logP(0.6, 0.6) / pow(2, 0.7), accuracy: 1e-9)
    }

    /// The stopping rule must not stop while a live hypothesis could still win
    /// after normalisation. alpha 1, B 2, max length 5:
    ///   P(.|<s>) = </s> .5, a .5; P(.|a) = </s> .1, a .9; P(.|aa) = </s> .9, a .1.
    /// Step 1 finishes </s> (-0.693; it ranks before a on the tie, lower
    /// token); live a at -0.693 after 1 token. The naive bound -0.693 / 1
    /// would stop here; the optimistic bound -0.693 / 5 does not. Step 3
    /// finishes aa</s> at log .405 / 3 = -0.301, the winner; live aaa,
    /// log .045 / 5 = -0.62 < -0.301: stop after 3 steps.
    func testOptimisticStopFindsALongerWinner() throws {
        let model = TableDecoder.fixed(
            [[]: [0.5, 0.5, 0], [Toy.a]: [0.1, 0.9, 0], [Toy.a, Toy.a]: [0.9, 0.1, 0]], otherwise: [1, 0, 0])
        let result = try decode(model, sources: [[]], options: options(2, alpha: 1, maxLength: 5))[0]
        XCTAssertEqual(result.best?.tokens, [Toy.a, Toy.a, Toy.end])
        XCTAssertEqual(result.best!.score, logP(0.5, 0.9, 0.9) / 3, accuracy: 1e-9)
        XCTAssertEqual(result.steps, 3)
        XCTAssertEqual(model.log.steps, 3)
    }

    /// P(.|<s>) = a .5, b .5 (no </s>); then only </s>. Step 2 finishes a</s>
    /// and b</s> and leaves no live hypothesis: two steps, not ten.
    func testStopsWhenEveryHypothesisHasEnded() throws {
        let model = TableDecoder.fixed([[]: [0, 0.5, 0.5]], otherwise: [1, 0, 0])
        let result = try decode(model, sources: [[]], options: options(2, nBest: 2, maxLength: 10))[0]
        XCTAssertEqual(result.hypotheses.map(\.tokens), [[Toy.a, Toy.end], [Toy.b, Toy.end]])
        XCTAssertEqual(result.steps, 2)
        XCTAssertEqual(model.log.steps, 2)
        XCTAssertEqual(model.log.rowsPerStep, [1, 2])
    }

    /// The classic table with n = 1 stops at step 2 while aa and ab are still
    /// live (their best, .175, is below the finished .36).
    func testStopsEarlyWhileHypothesesAreLive() throws {
        let model = TableDecoder.fixed(classic, otherwise: otherwise)
        _ = try decode(model, sources: [[]], options: options(2, maxLength: 50))
        XCTAssertEqual(model.log.steps, 2)
    }

    /// No </s> ever: everything is cut at max length 4; a (.6) beats b (.4)
    /// at every step, so the best is aaaa.
    func testMaxLengthCutsHypotheses() throws {
        let model = TableDecoder.fixed([:], otherwise: [0, 0.6, 0.4])
        for beam in [1, 3] {
            let result = try decode(model, sources: [[]], options: options(beam, nBest: beam, maxLength: 4))[0]
            XCTAssertEqual(result.best?.tokens, [Toy.a, Toy.a, Toy.a, Toy.a])
            XCTAssertEqual(result.best?.ended, false)
            XCTAssertEqual(Array(result.best!.content), [Toy.a, Toy.a, Toy.a, Toy.a])
            XCTAssertEqual(result.best!.logProbability, logP(0.6, 0.6, 0.6, 0.6), accuracy: 1e-9)
            XCTAssertEqual(result.hypotheses.count, beam)
            XCTAssertTrue(result.hypotheses.allSatisfy { $0.tokens.count == 4 && !$0.ended })
            XCTAssertEqual(result.steps, 4)
        }
    }

    /// Min length 3 on the classic table: </s> is masked for two steps.
    /// Greedy: a, a (.35, </s> masked), then </s> (.7). Beam 2: live aa .175,
    /// ab .125 after step 2; step 3 finishes aa</s> .1225 (ab</s> .0875).
    func testMinimumLength() throws {
        let model = TableDecoder.fixed(classic, otherwise: otherwise)
        for beam in [1, 2] {
            let result = try decode(model, sources: [[]], options: options(beam, minLength: 3))[0]
            XCTAssertEqual(result.best?.tokens, [Toy.a, Toy.a, Toy.end], "beam \(beam)")
            XCTAssertEqual(result.best!.logProbability, logP(0.5, 0.35, 0.7), accuracy: 1e-9)
        }
    }

    /// With alpha 0 a beam of one is greedy decoding.
    func testBeamOfOneIsGreedyWithoutNormalisation() throws {
        for seed in UInt64(1)...8 {
            let model = TableDecoder.random(vocabularySize: 5, seed: seed)
            let o = options(1, maxLength: 7)
            XCTAssertEqual(try beamSearchDecode(model, sources: [[1], [2, 3]], options: o),
                           try greedyDecode(model, sources: [[1], [2, 3]], options: o))
        }
    }

    func testInvalidOptionsThrowBeforeAnyStep() {
        let model = TableDecoder.fixed(classic, otherwise: otherwise)
        let bad = [options(2, nBest: 3), options(0), options(2, maxLength: 0), options(2, alpha: -1),
                   options(2, maxLength: 3, minLength: 4),
                   DecodingOptions(startToken: 0, endToken: 9)]
        for o in bad {
            XCTAssertThrowsError(try decode(model, sources: [[]], options: o)) { error in
                XCTAssertTrue(error is DecodingOptionsError, "\(error)")
            }
        }
        XCTAssertEqual(model.log.startCalls, 0)
    }
}
