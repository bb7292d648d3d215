import DLNN
import DLServeTesting
import DLServing
import DLTensor
import DLText
import Foundation
import XCTest

/// The fixture's step decoder, slowed down so that requests overlap in time.
struct SlowStepper: IncrementalDecoder {
    let inner: EncoderDecoderStepper
    let delay: Double
    var vocabularySize: Int { inner.vocabularySize }
    func start(_ sources: [[Int]]) throws -> KVCacheState { try inner.start(sources) }
    func step(_ state: KVCacheState, keeping rows: [Int], lastTokens: [Int]) throws -> (logProbabilities: Tensor, state: KVCacheState) {
        Thread.sleep(forTimeInterval: delay)
        return try inner.step(state, keeping: rows, lastTokens: lastTokens)
    }
}

/// `DecodingScheduler`: requests to one version step together, each decoding
/// exactly as alone, within the queue bound, deadline and cancellation.
final class DecodingSchedulerTests: XCTestCase {
    let subwords = TranslationFixture.subwords()
    var stepper: EncoderDecoderStepper!

    override func setUpWithError() throws {
        stepper = try EncoderDecoderStepper(model: try TranslationFixture.model(subwords))
    }

    /// `long`: no `<eos>` before max length, so the request surely runs maxLength steps.
    func options(_ width: Int, maxLength: Int = 20, long: Bool = false) -> DecodingOptions {
        DecodingOptions(startToken: BPEModel.beginningID, endToken: BPEModel.endID, beamWidth: width, lengthPenalty: 0.7,
                        nBest: min(2, width), maxLength: maxLength, minLength: long ? maxLength : 0)
    }

    func searches(_ n: Int, _ o: DecodingOptions) -> [any TokenSearch] {
        (0..<n).map { _ -> any TokenSearch in o.beamWidth == 1 ? GreedySearch(options: o) as any TokenSearch : BeamSearch(options: o) }
    }

    func scheduler(delay: Double = 0, maxRows: Int = 256, queue: Int = 16, queueDelay: Duration = .zero)
        -> DecodingScheduler<SlowStepper>
    {
        DecodingScheduler(model: SlowStepper(inner: stepper, delay: delay),
                          limits: .init(model: "mt", maxRows: maxRows, queueCapacity: queue, maxQueueDelay: queueDelay))
    }

    var far: ContinuousClock.Instant { .now + .seconds(60) }

    /// Two requests submitted together share every step and answer what
    /// `decode` answers for each alone; a third that arrives while they run
    /// joins mid-way (concatenated state) and answers the same as alone too.
    func testConcurrentRequestsShareStepsAndEqualDecodingAlone() async throws {
        let a = ["the cat is big", "a red car"].map(subwords.encodeSource)
        let b = [subwords.encodeSource("i see the sky")]
        let c = [subwords.encodeSource("the dog is old")]
        let (oa, ob, oc) = (options(3, long: true), options(1, long: true), options(4, maxLength: 12))
        let alone = try [decode(stepper, sources: a, options: oa), decode(stepper, sources: b, options: ob),
                         decode(stepper, sources: c, options: oc)]
        let s = scheduler(delay: 0.01, queueDelay: .milliseconds(50))
        async let ra = s.decode(sources: a, searches: searches(2, oa), deadline: far)
        async let rb = s.decode(sources: b, searches: searches(1, ob), deadline: far)
        try await Task.sleep(for: .milliseconds(90))  // a and b are some steps in
        async let rc = s.decode(sources: c, searches: searches(1, oc), deadline: far)
        let got = try await [ra, rb, rc]
        for (g, w) in zip(got, alone) {
            XCTAssertEqual(g.map { $0.hypotheses.map(\.tokens) }, w.map { $0.hypotheses.map(\.tokens) })
            for (x, y) in zip(g.flatMap(\.hypotheses), w.flatMap(\.hypotheses)) { XCTAssertEqual(x.score, y.score, accuracy: 1e-5) }
        }
        let stats = s.stats
        XCTAssertGreaterThan(stats.sharedSteps, 0)
        XCTAssertEqual(stats.mostRequestsInAStep, 3, "c joined a and b")
        // Steps are shared: fewer than the three alone would take.
        let separate = alone.map { $0.map(\.steps).max()! }.reduce(0, +)
        XCTAssertLessThan(stats.steps, separate)
        print("decoding scheduler: \(stats.steps) shared steps (\(stats.rows) rows) for \(separate) steps alone")
    }

    /// References scored as teacher-forced searches in the same steps equal `scoreReferences`.
    func testReferenceSearchEqualsScoreReferences() async throws {
        let source = subwords.encodeSource("the cat is big")
        let reference = subwords.target.encode("el gato es grande", addEnd: true)
        let o = options(2)
        let s = scheduler()
        let got = try await s.decode(sources: [source, source],
                                     searches: [BeamSearch(options: o), try ReferenceSearch(reference: reference, options: o, vocabularySize: stepper.vocabularySize)],
                                     deadline: far)
        let want = try scoreReferences(stepper, sources: [source], references: [reference], options: o)[0]
        XCTAssertEqual(got[1].best?.tokens, want.tokens)
        XCTAssertEqual(got[1].best!.score, want.score, accuracy: 1e-5)
    }

    /// Past its deadline a request is answered `timeout` and its rows dropped.
    func testDeadlineIsTimeout() async throws {
        let s = scheduler(delay: 0.01)
        let source = subwords.encodeSource("the cat is big")
        let start = ContinuousClock.now
        do {
            _ = try await s.decode(sources: [source], searches: searches(1, options(4, maxLength: 200, long: true)), deadline: .now + .milliseconds(50))
            XCTFail("no timeout")
        } catch let e as ServingError {
            guard case .timeout(let model, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(model, "mt")
            XCTAssertEqual(e.httpStatus, 504)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }

    /// More waiting requests than the queue holds: 429 queue_full with a Retry-After.
    func testQueueFullIsRefused() async throws {
        let s = scheduler(delay: 0.01, maxRows: 1, queue: 1)
        let source = [subwords.encodeSource("the cat is big")]
        let long = options(1, maxLength: 30, long: true)
        async let first = s.decode(sources: source, searches: searches(1, long), deadline: far)
        try await Task.sleep(for: .milliseconds(40))  // first is running
        async let second = s.decode(sources: source, searches: searches(1, long), deadline: far)  // waits (1 row max)
        try await Task.sleep(for: .milliseconds(20))
        do {
            _ = try await s.decode(sources: source, searches: searches(1, long), deadline: far)
            XCTFail("a full queue accepted a request")
        } catch let e as ServingError {
            XCTAssertEqual(e.code, "queue_full")
            XCTAssertEqual(e.httpStatus, 429)
            XCTAssertNotNil(e.retryAfterSeconds)
        }
        _ = try await (first, second)
    }

    /// A cancelled request (client gone) is answered at once and its rows
    /// leave the batch at the next step.
    func testCancelledRequestIsDropped() async throws {
        let s = scheduler(delay: 0.01)
        let source = [subwords.encodeSource("the cat is big")]
        let task = Task { try await s.decode(sources: source, searches: searches(1, options(1, maxLength: 200, long: true)), deadline: far) }
        try await Task.sleep(for: .milliseconds(60))
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("not cancelled")
        } catch let e as ServingError {
            XCTAssertEqual(e, .cancelled)
        }
        try await Task.sleep(for: .milliseconds(100))
        let steps = s.stats.steps
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(s.stats.steps, steps, "no more steps after the only request left")
        XCTAssertLessThan(steps, 50)
    }
}
