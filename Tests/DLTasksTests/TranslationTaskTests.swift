import DLNN
import DLServeTesting
import DLServing
import DLTasks
import DLText
import Foundation
import XCTest

/// The translate task on the real engine: the tiny random-weight fixture
/// model (`TranslationFixture`) loaded from a repository on disk, its answers
/// checked against the decoding library run directly on the same weights.
final class TranslationTaskTests: XCTestCase {
    var repo: TestRepository!
    var engine: ServingEngine!
    let texts = ["the cat is big", "i see the red sea", "a dog"]

    override func setUp() async throws {
        repo = try TestRepository()
        try TranslationFixture.publish(in: repo.repository, name: "mt", maxQueueDelayMs: 50)
        try TranslationFixture.publish(in: repo.repository, name: "mt-slow", timeoutMs: 50, endless: true)
        try TranslationFixture.publish(in: repo.repository, name: "mt-rnn", maxQueueDelayMs: 50, recurrent: true)
        var o = ServingOptions()
        o.workers = 1
        o.pollInterval = nil
        o.logger.logLevel = .critical
        engine = ServingEngine(repository: repo.root, options: o)
        try await engine.start()
    }

    override func tearDown() async throws {
        _ = await engine?.shutdown(timeout: .seconds(5))
        repo?.remove()
    }

    func translate(_ json: String) async throws -> Translation.Response {
        let request = try Translation.decode(TaskBody(bytes: Array(json.utf8)))
        return try await engine.perform(Translation(), model: "mt", request: request)
    }

    /// The library on the fixture's weights: what the task must answer.
    func library(_ text: String, beamWidth: Int, nBest: Int = 1, alpha: Double = Translation.defaultLengthPenalty)
        throws -> (source: [Int], result: DecodingResult, stepper: EncoderDecoderStepper, subwords: TranslationSubwords)
    {
        let subwords = TranslationFixture.subwords()
        let stepper = try EncoderDecoderStepper(model: try TranslationFixture.model(subwords))
        let source = subwords.encodeSource(text)
        let options = DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: beamWidth,
                                      lengthPenalty: alpha, nBest: nBest,
                                      maxLength: Translation.defaultMaxLength(sourceLength: source.count))
        return (source, try decode(stepper, sources: [source], options: options)[0], stepper, subwords)
    }

    func testAnswersEqualTheDecodingLibrary() async throws {
        let r = try await translate(#"{"texts": ["the cat is big", "i see the red sea", "a dog"]}"#)
        XCTAssertEqual(r.model, "mt")
        XCTAssertEqual(r.version, 1)
        XCTAssertEqual(r.results.count, 3)
        for (text, result) in zip(texts, r.results) {
            let want = try library(text, beamWidth: Translation.defaultBeamWidth)
            let best = want.result.best!
            XCTAssertEqual(result.translation, want.subwords.decodeTarget(best.tokens))
            XCTAssertEqual(result.score, best.score, accuracy: 1e-5)
            XCTAssertEqual(result.logProbability, best.logProbability, accuracy: 1e-5)
            XCTAssertEqual(result.tokens, best.content.count)
            XCTAssertEqual(result.truncated, !best.ended)
            let ty = Double(result.tokens + (result.truncated ? 0 : 1))
            XCTAssertEqual(result.score, result.logProbability / pow(ty, 0.7), accuracy: 1e-6, "length-normalised score")
            XCTAssertNil(result.nBest)
            XCTAssertNil(result.attention)
            XCTAssertNil(result.errorAnalysis)
        }
    }

    /// beam_width 1 is greedy decoding, exactly.
    func testBeamWidthOneIsGreedy() async throws {
        let r = try await translate(#"{"text": "i see the red sea", "beam_width": 1, "length_penalty": 0}"#)
        let want = try library("i see the red sea", beamWidth: 1, alpha: 0)
        let greedy = try greedyDecode(want.stepper, sources: [want.source], options: DecodingOptions(
            startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: 1, lengthPenalty: 0,
            maxLength: Translation.defaultMaxLength(sourceLength: want.source.count)))[0]
        XCTAssertEqual(want.result, greedy)
        XCTAssertEqual(r.results[0].translation, want.subwords.decodeTarget(greedy.best!.tokens))
        XCTAssertEqual(r.results[0].logProbability, greedy.best!.logProbability, accuracy: 1e-5)
        XCTAssertEqual(r.results[0].score, r.results[0].logProbability, accuracy: 1e-9, "alpha 0: the score is log P")
    }

    /// n_best lists the hypotheses best first, the first being the answer.
    func testNBestIsOrderedAndStartsWithTheAnswer() async throws {
        let r = try await translate(#"{"text": "the cat is big", "beam_width": 5, "n_best": 3, "max_length": 12}"#)
        let result = r.results[0]
        let list = try XCTUnwrap(result.nBest)
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list[0].translation, result.translation)
        XCTAssertEqual(list[0].score, result.score)
        XCTAssertEqual(list.map(\.score), list.map(\.score).sorted(by: >))
        XCTAssertTrue(list.allSatisfy { $0.tokens <= 12 })
    }

    /// The error analysis: the reference scored by teacher forcing (as
    /// `scoreReferences` does), against the best beam, and the verdict.
    func testErrorAnalysisScoresTheReference() async throws {
        let reference = "el gato es grande"
        let r = try await translate(#"{"text": "the cat is big", "reference": "el gato es grande", "beam_width": 2}"#)
        let report = try XCTUnwrap(r.results[0].errorAnalysis)
        let want = try library("the cat is big", beamWidth: 2)
        let options = DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: 2,
                                      lengthPenalty: Translation.defaultLengthPenalty)
        let scored = try scoreReferences(want.stepper, sources: [want.source],
                                         references: [want.subwords.target.encode(reference)], options: options)[0]
        XCTAssertEqual(report.referenceScore, scored.score, accuracy: 1e-5)
        XCTAssertEqual(report.referenceLogProbability, scored.logProbability, accuracy: 1e-5)
        XCTAssertEqual(report.referenceTokens, scored.tokens.count)
        XCTAssertEqual(report.bestScore, r.results[0].score)
        XCTAssertEqual(report.bestLogProbability, r.results[0].logProbability)
        XCTAssertEqual(report.verdict, report.referenceScore > report.bestScore ? "search_error" : "model_error")
        // A list of references, one per text.
        let two = try await translate(#"{"texts": ["a dog", "the sun"], "reference": ["un perro", "el sol"]}"#)
        XCTAssertTrue(two.results.allSatisfy { $0.errorAnalysis != nil })
    }

    /// Attention: one row per target token (with <eos>), one column per
    /// source subword (with <eos>), each row a distribution.
    func testAttentionRowsSumToOne() async throws {
        let r = try await translate(#"{"text": "the sea is blue", "return_attention": true, "max_length": 9}"#)
        let a = try XCTUnwrap(r.results[0].attention)
        let subwords = TranslationFixture.subwords()
        let source = subwords.encodeSource("the sea is blue")
        XCTAssertEqual(a.sourceTokens, source.map { subwords.source.model.vocabulary.words[$0] })
        XCTAssertEqual(a.sourceTokens.last, "<eos>")
        XCTAssertEqual(a.targetTokens.count, r.results[0].tokens + (r.results[0].truncated ? 0 : 1))
        XCTAssertEqual(a.weights.count, a.targetTokens.count)
        for row in a.weights {
            XCTAssertEqual(row.count, a.sourceTokens.count)
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertTrue(row.allSatisfy { $0 >= 0 })
        }
    }

    /// Requests decoded concurrently (they share steps: 50 ms queue delay)
    /// answer exactly what each answers alone.
    func testConcurrentRequestsEqualRequestsAlone() async throws {
        let bodies = [#"{"text": "the cat is big"}"#, #"{"texts": ["a red car", "the dog is old"], "beam_width": 3}"#,
                      #"{"text": "i see the sky", "beam_width": 1}"#]
        var alone: [Translation.Response] = []
        for b in bodies { alone.append(try await translate(b)) }
        let together = try await withThrowingTaskGroup(of: (Int, Translation.Response).self) { group in
            for (i, b) in bodies.enumerated() { group.addTask { (i, try await self.translate(b)) } }
            var out = [Translation.Response?](repeating: nil, count: bodies.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
        for (a, t) in zip(alone, together) {
            XCTAssertEqual(a.results.map(\.translation), t.results.map(\.translation))
            for (x, y) in zip(a.results, t.results) { XCTAssertEqual(x.score, y.score, accuracy: 1e-5) }
        }
    }

    /// Past the model's timeout (50 ms; mt-slow never ends a hypothesis
    /// early) the request is answered `timeout` (504), without waiting for
    /// the decode to run out.
    func testDeadlineIsTimeout() async throws {
        let request = try Translation.decode(TaskBody(bytes: Array(#"{"texts": ["the cat is big", "a dog"], "beam_width": 16, "max_length": 256}"#.utf8)))
        let start = ContinuousClock.now
        do {
            _ = try await engine.perform(Translation(), model: "mt-slow", request: request)
            XCTFail("no timeout")
        } catch let e as ServingError {
            XCTAssertEqual(e.code, "timeout", "\(e)")
            XCTAssertEqual(e.httpStatus, 504)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }

    /// The RNN family is served too: answers equal the decoding library on
    /// its weights, alone and with requests joining each other (carried
    /// states concatenated), and it reports its additive attention.
    func testRecurrentModelIsServedAndEqualsTheLibrary() async throws {
        let subwords = TranslationFixture.subwords()
        let stepper = try makeIncrementalDecoder(model: try TranslationFixture.model(subwords, recurrent: true))
        guard case .recurrent = stepper else { return XCTFail("the fixture is not the RNN family") }
        func served(_ json: String) async throws -> Translation.Response {
            try await engine.perform(Translation(), model: "mt-rnn", request: try Translation.decode(TaskBody(bytes: Array(json.utf8))))
        }
        let cases: [(text: String, width: Int)] = [("the cat is big", 4), ("i see the red sea", 1), ("a dog", 3), ("the sun is new", 2)]
        var want: [[Int]] = []
        for c in cases {
            let source = subwords.encodeSource(c.text)
            let options = DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: c.width,
                                          lengthPenalty: Translation.defaultLengthPenalty, nBest: 1,
                                          maxLength: Translation.defaultMaxLength(sourceLength: source.count))
            want.append(try decode(stepper, sources: [source], options: options)[0].best!.tokens)
        }
        let together = try await withThrowingTaskGroup(of: (Int, Translation.Response).self) { group in
            for (i, c) in cases.enumerated() {
                group.addTask { (i, try await served(#"{"text": "\#(c.text)", "beam_width": \#(c.width)}"#)) }
            }
            var out = [Translation.Response?](repeating: nil, count: cases.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
        for (i, r) in together.enumerated() {
            XCTAssertEqual(r.model, "mt-rnn")
            XCTAssertEqual(r.results[0].translation, subwords.decodeTarget(want[i]), "case \(i)")
        }
        // Its alignment: the additive attention's weights, one distribution per target token,
        // equal to the stepper's teacher-forced capture of the answer.
        let r = try await served(#"{"text": "the sea is blue", "return_attention": true, "max_length": 9}"#)
        let a = try XCTUnwrap(r.results[0].attention)
        let source = subwords.encodeSource("the sea is blue")
        XCTAssertEqual(a.sourceTokens, source.map { subwords.source.model.vocabulary.words[$0] })
        XCTAssertEqual(a.weights.count, a.targetTokens.count)
        XCTAssertEqual(a.targetTokens.count, r.results[0].tokens + (r.results[0].truncated ? 0 : 1))
        for row in a.weights {
            XCTAssertEqual(row.count, source.count)
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
        }
        let target = a.targetTokens.map { subwords.target.model.vocabulary.id($0) }
        let alignment = try stepper.crossAttention(source: source, target: target, startToken: BPEModel.beginningID)
        for (x, y) in zip(a.weights.joined(), alignment.joined()) { XCTAssertEqual(x, y, accuracy: 1e-6) }
    }
}
