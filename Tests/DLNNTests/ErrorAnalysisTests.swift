import DLNN
import DLTensor
import Foundation
import XCTest

/// The course's error analysis on the classic table of BeamSearchTests:
///   P(.|<s>) = </s> .1, a .5, b .4;  P(.|a) = </s> .4, a .35, b .25;
///   P(.|b) = </s> .9, a .05, b .05;  otherwise </s> .7, a .15, b .15.
final class ErrorAnalysisTests: XCTestCase {
    let model = TableDecoder.fixed(
        [[]: [0.1, 0.5, 0.4], [Toy.a]: [0.4, 0.35, 0.25], [Toy.b]: [0.9, 0.05, 0.05]],
        otherwise: [0.7, 0.15, 0.15])
    func options(_ beam: Int, alpha: Double = 0) -> DecodingOptions {
        DecodingOptions(startToken: Toy.start, endToken: Toy.end, beamWidth: beam, lengthPenalty: alpha, maxLength: 10)
    }
    func logP(_ ps: Double...) -> Double { ps.reduce(0.0) { $0 + Double(Float(log($1))) } }

    /// Teacher forcing, a batch of references of different lengths; </s> is
    /// appended where missing. b</s>: .4 * .9; aa</s>: .5 * .35 * .7; </s>: .1.
    func testReferenceScores() throws {
        let scored = try scoreReferences(model, sources: [[], [], []], references: [[Toy.b], [Toy.a, Toy.a, Toy.end], []],
                                         options: options(2, alpha: 1))
        XCTAssertEqual(scored.map(\.tokens), [[Toy.b, Toy.end], [Toy.a, Toy.a, Toy.end], [Toy.end]])
        XCTAssertEqual(scored[0].tokenLogProbabilities, [Float(log(0.4)), Float(log(0.9))])
        XCTAssertEqual(scored[1].logProbability, logP(0.5, 0.35, 0.7), accuracy: 1e-9)
        XCTAssertEqual(scored[1].score, logP(0.5, 0.35, 0.7) / 3, accuracy: 1e-9)
        XCTAssertEqual(scored[2].score, logP(0.1), accuracy: 1e-9)
    }

    /// Greedy finds a</s> (.2); the reference b</s> scores .36 under the
    /// model: the search is at fault.
    func testSearchError() throws {
        let analysis = try analyzeErrors(model, sources: [[]], references: [[Toy.b]], options: options(1))[0]
        XCTAssertEqual(analysis.verdict, .searchError)
        XCTAssertEqual(analysis.best?.tokens, [Toy.a, Toy.end])
        XCTAssertEqual(analysis.reference.score, logP(0.4, 0.9), accuracy: 1e-9)
        XCTAssertEqual(analysis.best!.score, logP(0.5, 0.4), accuracy: 1e-9)
    }

    /// Beam 2 finds b</s> (.36); the reference aa</s> scores .1225: the model
    /// prefers a worse sentence. A reference equal to the beam's best is the
    /// model's fault too (the search found as good a sequence).
    func testModelError() throws {
        let results = try analyzeErrors(model, sources: [[], []], references: [[Toy.a, Toy.a], [Toy.b, Toy.end]],
                                        options: options(2))
        XCTAssertEqual(results.map(\.verdict), [.modelError, .modelError])
        XCTAssertEqual(results[0].best?.tokens, [Toy.b, Toy.end])
        XCTAssertEqual(results[0].reference.score, logP(0.5, 0.35, 0.7), accuracy: 1e-9)
        XCTAssertEqual(results[1].reference.score, results[1].best!.score)
    }

    /// The verdict compares normalised scores. alpha 1: greedy's a</s> is
    /// log .2 / 2 = -0.805; reference aa</s> is log .1225 / 3 = -0.700, a
    /// search error, though its plain log-probability (-2.10) is below
    /// greedy's (-1.61), which alone would say model error.
    func testVerdictUsesNormalisedScores() throws {
        let normalised = try analyzeErrors(model, sources: [[]], references: [[Toy.a, Toy.a]], options: options(1, alpha: 1))[0]
        XCTAssertEqual(normalised.verdict, .searchError)
        let plain = try analyzeErrors(model, sources: [[]], references: [[Toy.a, Toy.a]], options: options(1))[0]
        XCTAssertEqual(plain.verdict, .modelError)
    }
}
