import ArgumentParser
import DLNN
import DLTensor
import DLTrain
import Foundation
import XCTest

@testable import dlserve

final class CommandLineTests: XCTestCase {
    func testRootHelpListsTheSubcommands() {
        let help = DLServeCommand.helpMessage()
        for s in ["train", "eval", "predict"] { XCTAssertTrue(help.contains(s), help) }
    }

    func testTrainHelp() {
        let help = DLServeCommand.helpMessage(for: TrainCommand.self)
        XCTAssertTrue(help.contains("USAGE: dlserve train <recipe.json>"), help)
        for option in ["--models <dir>", "--datasets <dir>", "--threads <threads>", "--checkpoint <file>", "--dry-run", "--quiet"] {
            XCTAssertTrue(help.contains(option), "\(option) missing from:\n\(help)")
        }
    }

    func testEvalAndPredictHelp() {
        let eval = DLServeCommand.helpMessage(for: EvalCommand.self)
        XCTAssertTrue(eval.contains("--model <dir>"), eval)
        XCTAssertTrue(eval.contains("--version <version>"), eval)
        XCTAssertTrue(eval.contains("--dataset <dataset>"), eval)
        XCTAssertTrue(eval.contains("default: fashion-mnist:test"), eval)
        XCTAssertTrue(eval.contains("--confusion"), eval)
        let predict = DLServeCommand.helpMessage(for: PredictCommand.self)
        XCTAssertTrue(predict.contains("<file> ..."), predict)
        XCTAssertTrue(predict.contains("PNG, JPEG and PGM"), predict)
        XCTAssertTrue(predict.contains("--top-k <top-k>"), predict)
    }

    func assertRejected(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DLServeCommand.parseAsRoot(args), file: file, line: line) { e in
            let message = DLServeCommand.message(for: e)
            XCTAssertTrue(message.contains(expected), "'\(message)' does not contain '\(expected)'", file: file, line: line)
        }
    }

    func testArgumentValidation() throws {
        let recipe = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString).json")
        try Data("{}".utf8).write(to: recipe)
        defer { try? FileManager.default.removeItem(at: recipe) }

        assertRejected(["train"], "Missing expected argument '<recipe.json>'")
        assertRejected(["train", "/nonexistent/recipe.json"], "recipe /nonexistent/recipe.json does not exist")
        assertRejected(["train", recipe.path, "--threads", "0"], "--threads must be between 1 and 256")
        assertRejected(["train", recipe.path, "--datasets", "/nonexistent"], "--datasets /nonexistent is not a directory")
        assertRejected(["eval"], "Missing expected argument '--model <dir>'")
        assertRejected(["eval", "--model", "models/fashion-mnist", "--version", "0"], "--version must be at least 1")
        assertRejected(["eval", "--model", "models/fashion-mnist", "--dataset", "fashion-mnist:dev"], "unknown split 'dev'")
        assertRejected(["eval", "--model", "models/fashion-mnist", "--limit", "0"], "--limit must be at least 1")
        assertRejected(["predict", "--model", "models/fashion-mnist"], "Missing expected argument '<file> ...'")
        assertRejected(["predict", "--model", "models/fashion-mnist", "/nonexistent.png"], "/nonexistent.png does not exist")
        assertRejected(["predict", "--model", "models/x", "--top-k", "0", recipe.path], "--top-k must be at least 1")
        assertRejected(["frobnicate"], "Unexpected argument 'frobnicate'")

        let train = try XCTUnwrap(DLServeCommand.parseAsRoot(["train", recipe.path, "--models", "/tmp/m", "--threads", "1"]) as? TrainCommand)
        XCTAssertEqual(train.repository.models, "/tmp/m")
        XCTAssertEqual(train.compute.threadCount, 1)
        let eval = try XCTUnwrap(DLServeCommand.parseAsRoot(["eval", "--model", "/srv/models/fashion-mnist", "--version", "2"]) as? EvalCommand)
        XCTAssertEqual(eval.model.name, "fashion-mnist")
        XCTAssertEqual(eval.model.repository.root.path, "/srv/models")
        XCTAssertEqual(eval.dataset, "fashion-mnist:test")
    }

    func testProgressLines() {
        let b = BatchProgress(epoch: 3, epochs: 12, batch: 420, batches: 860, loss: 0.31244, accuracy: 0.8891,
                              imagesPerSecond: 1234, learningRate: 0.001)
        XCTAssertEqual(ProgressBar.barLine(b, width: 10, eta: 35),
                       "epoch  3/12 [====>     ] 420/860  loss 0.3124  acc 88.91%  1234 img/s  eta 0:35")
        let m = EpochMetrics(epoch: 3, learningRate: 0.00128, trainLoss: 0.3011, trainAccuracy: 0.892, devLoss: 0.271,
                             devAccuracy: 0.9012, seconds: 52.1, imagesPerSecond: 1056, cpuSeconds: 100)
        XCTAssertEqual(ProgressBar.epochLine(m, epochs: nil),
                       "epoch   3  train loss 0.3011 acc 89.20% | dev loss 0.2710 acc 90.12% | lr 0.00128 | 52.1 s, 1056 img/s, cpu 100.0 s")
        XCTAssertEqual(ProgressBar.duration(3725), "1:02:05")
    }

    func testPGMReading() throws {
        let p5 = Array("P5\n# a comment\n3 2\n255\n".utf8) + [0, 51, 255, 102, 204, 153]
        let (w, h, px) = try ImageFiles.pgm(p5, what: "t.pgm")
        XCTAssertEqual([w, h], [3, 2])
        XCTAssertEqual(px, [0, 0.2, 1, 0.4, 0.8, 0.6])
        let p2 = Array("P2 2 1 4\n0 4\n".utf8)
        XCTAssertEqual(try ImageFiles.pgm(p2, what: "t.pgm").2, [0, 1])
        XCTAssertThrowsError(try ImageFiles.pgm(Array("P5\n3 2\n255\n".utf8) + [1, 2], what: "t.pgm"))
        XCTAssertThrowsError(try ImageFiles.pgm(Array("P5\nx".utf8), what: "t.pgm"))
    }
}

final class CommandLineEndToEndTests: XCTestCase {
    /// A dataset directory "quadrants" of 6x6 grey images whose class is the bright quadrant.
    func makeDatasets(_ root: URL) throws {
        let dir = root.appendingPathComponent("quadrants")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 1)
        for (split, n) in [("train", 240), ("t10k", 60)] {
            var pixels: [UInt8] = [], labels: [UInt8] = []
            for _ in 0..<n {
                let q = Int(rng.next() % 4)
                for r in 0..<6 { for c in 0..<6 { pixels.append((r / 3) * 2 + c / 3 == q ? 200 : UInt8(rng.next() % 60)) } }
                labels.append(UInt8(q))
            }
            try Data(IDXFile(dims: [n, 6, 6], bytes: pixels).encoded()).write(to: dir.appendingPathComponent("\(split)-images-idx3-ubyte"))
            try Data(IDXFile(dims: [n], bytes: labels).encoded()).write(to: dir.appendingPathComponent("\(split)-labels-idx1-ubyte"))
        }
        try "top-left\ntop-right\nbottom-left\nbottom-right\n".write(to: dir.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
    }

    func testTrainEvalPredict() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cli-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let datasets = root.appendingPathComponent("datasets"), models = root.appendingPathComponent("models")
        try makeDatasets(datasets)
        let recipe = root.appendingPathComponent("recipe.json")
        try Data("""
            {"name": "quadrants", "dataset": {"name": "quadrants", "dev_fraction": 0.25},
             "model": {"preset": "mlp", "width": 16}, "optimizer": {"name": "adam", "lr": 0.01},
             "epochs": 4, "batch_size": 16, "seed": 3, "early_stopping": {"patience": 2}}
            """.utf8).write(to: recipe)
        let checkpoint = root.appendingPathComponent("ckpt.safetensors")
        var train = try DLServeCommand.parseAsRoot(["train", recipe.path, "--models", models.path, "--datasets", datasets.path,
                                             "--threads", "1", "--checkpoint", checkpoint.path, "-q"])
        try train.run()
        let repo = ModelRepository(root: models)
        let v1 = try repo.load("quadrants", version: 1)
        XCTAssertEqual(v1.config.labels, ["top-left", "top-right", "bottom-left", "bottom-right"])
        XCTAssertEqual(v1.config.input.shape, [1, 6, 6])
        guard case .object(let metrics)? = v1.metrics, case .number(let acc)? = metrics["test_accuracy"] else {
            return XCTFail("metrics.json has no test_accuracy: \(String(describing: v1.metrics))")
        }
        XCTAssertGreaterThan(acc, 0.8)
        XCTAssertNotNil(v1.recipe)
        XCTAssertEqual(try TrainingCheckpoint.load(from: checkpoint).epochsCompleted, 4)

        var eval = try DLServeCommand.parseAsRoot(["eval", "--model", models.appendingPathComponent("quadrants").path,
                                            "--dataset", "quadrants:test", "--datasets", datasets.path])
        try eval.run()

        // A PGM of a bright bottom-right quadrant, and the IDX test file.
        let pgm = root.appendingPathComponent("br.pgm")
        var px = [UInt8](repeating: 10, count: 36)
        for r in 3..<6 { for c in 3..<6 { px[r * 6 + c] = 200 } }
        try Data(Array("P5\n6 6\n255\n".utf8) + px).write(to: pgm)
        let images = try ImageFiles.read(pgm)
        XCTAssertEqual(images.count, 1)
        XCTAssertEqual(images[0].image.pixels, px)
        var predict = try DLServeCommand.parseAsRoot(["predict", "--model", models.appendingPathComponent("quadrants").path, pgm.path])
        try predict.run()
        XCTAssertEqual(try ImageFiles.read(datasets.appendingPathComponent("quadrants/t10k-images-idx3-ubyte")).count, 60)
    }

    /// `dlserve predict` with the shipped sentiment model takes texts.
    func testPredictTextsWithTheShippedSentimentModel() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/sentiment-rt").standardized
        let repo = ModelRepository(root: dir.deletingLastPathComponent())
        let loaded = try repo.load("sentiment-rt", version: 1)
        let text = try XCTUnwrap(loaded.config.input.text)
        let lines = try PredictCommand.predict(texts: ["a gorgeous , moving film", "a dull , tedious mess", "zzqx film"],
                                               loaded, text, topK: 2)
        XCTAssertEqual(lines.map { $0.predictions[0].label }, ["positive", "negative", lines[2].predictions[0].label])
        for line in lines { XCTAssertEqual(line.predictions.map(\.probability).reduce(0, +), 1, accuracy: 1e-5) }
        XCTAssertEqual(lines.map(\.tokens), [5, 5, 2])
        XCTAssertEqual(lines.map(\.unknownWords), [0, 0, 1])
        XCTAssertThrowsError(try PredictCommand.predict(texts: ["   "], loaded, text, topK: 1))
    }
}
