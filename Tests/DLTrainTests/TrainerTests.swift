import DLNN
import DLTensor
import DLTesting
@testable import DLTrain
import Foundation
import XCTest

/// Small, fast problems for the training loop: 6x6 images whose class is the
/// bright quadrant (4 classes), and a tiny convolutional classifier.
enum TinyProblem {
    static func dataset(_ n: Int, seed: UInt64, randomLabels: Bool = false) throws -> Dataset {
        var rng = SeededGenerator(seed: seed)
        var x = [Float](repeating: 0, count: n * 36), y: [Int] = []
        for i in 0..<n {
            let q = Int(rng.next() % 4)
            for r in 0..<6 {
                for c in 0..<6 {
                    let inQ = (r / 3) * 2 + (c / 3) == q
                    x[i * 36 + r * 6 + c] = min(1, max(0, (inQ ? 0.7 : 0.2) + 0.3 * (rng.uniform() - 0.5)))
                }
            }
            y.append(randomLabels ? Int(rng.next() % 4) : q)
        }
        return try Dataset(images: Tensor(shape: [n, 1, 6, 6], data: x), labels: y, classes: ["tl", "tr", "bl", "br"])
    }

    static let spec = ModelSpec(inputShape: [1, 6, 6], layers: [
        LayerSpec(name: "conv1", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 4, "kernel_size": 3, "padding": 1]),
        LayerSpec(name: "pool1", type: "max_pool2d", inputs: ["conv1"], attrs: ["kernel_size": 2]),
        LayerSpec(name: "conv2", type: "conv2d", inputs: ["pool1"], attrs: ["out_channels": 4, "kernel_size": 3]),
        LayerSpec(name: "flat", type: "flatten", inputs: ["conv2"]),
    ])

    static func config(epochs: Int = 4, patience: Int? = nil, lr: Float = 0.01) -> TrainingConfig {
        TrainingConfig(
            epochs: epochs, batchSize: 16, seed: 42, learningRate: lr, schedule: .exponential(rate: 0.9),
            rule: Adam(), l2: 0.5, clipNorm: 5, earlyStoppingPatience: patience,
            augmentation: Augmentation(horizontalFlip: false, cropPadding: 1, brightness: 0.05, contrast: 0.1),
            normalization: Normalization(mean: [0.3], std: [0.25]), evaluationBatchSize: 32)
    }
}

final class TrainerTests: XCTestCase {
    func makeTrainer(_ config: TrainingConfig, devRandom: Bool = false) throws -> Trainer {
        let model = try GraphModel(spec: TinyProblem.spec, seed: 1)
        return Trainer(model: model, train: try TinyProblem.dataset(200, seed: 1),
                       dev: try TinyProblem.dataset(64, seed: 2, randomLabels: devRandom), config: config)
    }

    func weights(_ m: GraphModel) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.stateDict.map { ($0.name, $0.tensor.data) })
    }

    /// The metrics that must repeat (timings do not).
    func numbers(_ h: [EpochMetrics]) -> [[Float?]] {
        h.map { [Float($0.epoch), $0.learningRate, $0.trainLoss, $0.trainAccuracy, $0.devLoss, $0.devAccuracy] }
    }

    func testLearnsAndReportsProgress() throws {
        let t = try makeTrainer(TinyProblem.config(epochs: 6))
        var batches: [BatchProgress] = [], epochs: [EpochMetrics] = []
        t.onEvent = { e in
            switch e {
            case .batch(let b): batches.append(b)
            case .epoch(let m): epochs.append(m)
            case .earlyStop: XCTFail("no early stopping configured")
            }
        }
        let summary = try t.fit()
        XCTAssertEqual(t.batchesPerEpoch, 13)  // 200 / 16, rounded up
        XCTAssertEqual(batches.count, 6 * 13)
        XCTAssertEqual(batches.first.map { [$0.epoch, $0.epochs, $0.batch, $0.batches] }, [1, 6, 1, 13])
        XCTAssertEqual(batches.last.map { [$0.epoch, $0.batch] }, [6, 13])
        XCTAssertEqual(epochs.map(\.epoch), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(summary.history, epochs)
        XCTAssertEqual(summary.bestEpoch, 6)
        XCTAssertFalse(summary.stoppedEarly)
        // lr0 * 0.9^epoch.
        XCTAssertEqual(epochs[2].learningRate, 0.01 * 0.81, accuracy: 1e-7)
        // The problem is easy: dev accuracy ends high and dev loss falls.
        let last = try XCTUnwrap(epochs.last)
        XCTAssertGreaterThan(try XCTUnwrap(last.devAccuracy), 0.9, "\(epochs)")
        XCTAssertLessThan(try XCTUnwrap(last.devLoss), try XCTUnwrap(epochs[0].devLoss))
        XCTAssertGreaterThan(last.imagesPerSecond, 0)
        // Evaluation agrees with the last epoch's dev numbers.
        let eval = Evaluator.evaluate(t.model, on: t.dev!, normalization: t.config.normalization)
        XCTAssertEqual(eval.loss, last.devLoss!, accuracy: 1e-5)
        XCTAssertEqual(eval.accuracy, last.devAccuracy!)
        XCTAssertEqual(eval.perClass.map(\.count).reduce(0, +), 64)
        XCTAssertEqual(eval.confusion.flatMap { $0 }.reduce(0, +), 64)
    }

    func testSameSeedRepeatsExactly() throws {
        let a = try makeTrainer(TinyProblem.config()), b = try makeTrainer(TinyProblem.config())
        let ha = try a.fit().history, hb = try b.fit().history
        XCTAssertEqual(numbers(ha), numbers(hb))
        XCTAssertEqual(weights(a.model), weights(b.model))
        var other = TinyProblem.config()
        other.seed = 43
        let c = try makeTrainer(other)
        _ = try c.fit()
        XCTAssertNotEqual(weights(a.model), weights(c.model))
    }

    func testResumeFromCheckpointFileEqualsUninterruptedRun() throws {
        let config = TinyProblem.config(epochs: 5, patience: 10)
        let straight = try makeTrainer(config)
        let full = try straight.fit()

        // Run 2 epochs, saving a checkpoint file after each; then "crash".
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(TrainingCheckpoint.fileName)
        let first = try makeTrainer(config)
        first.epochFinished = { c in
            try c.save(to: file)
            if c.epochsCompleted == 2 { throw TrainingError.cancelled }
        }
        XCTAssertThrowsError(try first.fit()) { XCTAssertEqual($0 as? TrainingError, .cancelled) }

        // A fresh process: new model (different init seed even), load, resume.
        let resumedModel = try GraphModel(spec: TinyProblem.spec, seed: 999)
        let second = Trainer(model: resumedModel, train: first.train, dev: first.dev, config: config)
        let checkpoint = try TrainingCheckpoint.load(from: file)
        XCTAssertEqual(checkpoint.epochsCompleted, 2)
        XCTAssertEqual(checkpoint.optimizer.parameters["conv1.weight"]?.step, 2 * 13)
        try second.resume(from: checkpoint)
        var events = 0
        second.onEvent = { if case .epoch = $0 { events += 1 } }
        let resumed = try second.fit()
        XCTAssertEqual(events, 3)
        XCTAssertEqual(numbers(resumed.history), numbers(full.history))
        XCTAssertEqual(resumed.bestEpoch, full.bestEpoch)
        XCTAssertEqual(weights(second.model), weights(straight.model))
    }

    func testEarlyStoppingRestoresBestWeights() throws {
        // Dev labels are random: the dev loss soon stops improving.
        var saved: [Int: [String: [Float]]] = [:]
        let t = try makeTrainer(TinyProblem.config(epochs: 30, patience: 2, lr: 0.05), devRandom: true)
        t.epochFinished = { c in saved[c.epochsCompleted] = c.weights.mapValues(\.data) }
        var stop: (Int, Int)?
        t.onEvent = { if case .earlyStop(let e, let b) = $0 { stop = (e, b) } }
        let s = try t.fit()
        XCTAssertTrue(s.stoppedEarly)
        XCTAssertLessThan(s.history.count, 30)
        XCTAssertEqual(stop?.0, s.history.count)
        XCTAssertEqual(stop?.1, s.bestEpoch)
        XCTAssertEqual(s.history.count, s.bestEpoch + 2, "patience 2: two epochs without improvement")
        let devLosses = s.history.map { $0.devLoss! }
        XCTAssertEqual(devLosses.min(), devLosses[s.bestEpoch - 1])
        XCTAssertEqual(weights(t.model), saved[s.bestEpoch])
        XCTAssertNotEqual(weights(t.model), saved[s.history.count])
    }

    func testDivergenceIsAClearError() throws {
        let t = try makeTrainer(TinyProblem.config(lr: 1e30))
        XCTAssertThrowsError(try t.fit()) { e in
            guard case TrainingError.diverged(_, _, let loss) = e else { return XCTFail("\(e)") }
            XCTAssertFalse(loss.isFinite)
            XCTAssertTrue("\(e)".contains("diverged"))
        }
    }

    func testCancellationIsCheckedEveryBatch() throws {
        let t = try makeTrainer(TinyProblem.config())
        var polls = 0, batches = 0
        t.isCancelled = { polls += 1; return polls > 5 }
        t.onEvent = { if case .batch = $0 { batches += 1 } }
        XCTAssertThrowsError(try t.fit()) { XCTAssertEqual($0 as? TrainingError, .cancelled) }
        XCTAssertEqual(batches, 5)
    }

    func testCheckpointMismatchesAndCorruptionAreRejected() throws {
        let t = try makeTrainer(TinyProblem.config(epochs: 1))
        _ = try t.fit()
        let c = t.checkpoint()
        var wrongSeed = TinyProblem.config(); wrongSeed.seed = 7
        XCTAssertThrowsError(try makeTrainer(wrongSeed).resume(from: c))
        var wrongBatch = TinyProblem.config(); wrongBatch.batchSize = 8
        XCTAssertThrowsError(try makeTrainer(wrongBatch).resume(from: c))
        var missing = c
        missing.weights["conv1.weight"] = nil
        XCTAssertThrowsError(try makeTrainer(TinyProblem.config()).resume(from: missing)) { e in
            XCTAssertTrue("\(e)".contains("conv1.weight"), "\(e)")
        }
        // Round trip through bytes, then truncation.
        let bytes = try c.encoded()
        let back = try TrainingCheckpoint.decode(Safetensors.decode(bytes))
        XCTAssertEqual(back.history, c.history)
        XCTAssertEqual(back.optimizer, c.optimizer)
        XCTAssertEqual(back.weights.mapValues(\.data), c.weights.mapValues(\.data))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("t.safetensors")
        try bytes.prefix(bytes.count - 10).write(to: f)
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: f)) { e in
            guard case TrainingError.checkpoint = e else { return XCTFail("\(e)") }
        }
        // A model weights file is not a training checkpoint.
        try Safetensors.write(t.model.stateDict, to: f)
        XCTAssertThrowsError(try TrainingCheckpoint.load(from: f)) { XCTAssertTrue("\($0)".contains("not a training checkpoint")) }
    }

    func testSeedStreamsAreIndependent() {
        let a = SeedStream.derive(1, .shuffle, epoch: 0), b = SeedStream.derive(1, .shuffle, epoch: 1)
        let c = SeedStream.derive(1, .augmentation, epoch: 0), d = SeedStream.derive(2, .shuffle, epoch: 0)
        XCTAssertEqual(Set([a, b, c, d]).count, 4)
        XCTAssertEqual(a, SeedStream.derive(1, .shuffle, epoch: 0))
        XCTAssertNotEqual(SeedStream.derive(1, .dropout, epoch: 0, batch: 1), SeedStream.derive(1, .dropout, epoch: 1, batch: 0))
    }
}
