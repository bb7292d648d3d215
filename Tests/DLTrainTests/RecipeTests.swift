import DLNN
import DLTensor
@testable import DLTrain
import Foundation
import XCTest

final class RecipeTests: XCTestCase {
    let good = """
        {"name": "fashion-mnist",
         "dataset": {"name": "fashion-mnist", "dev_fraction": 0.1, "limit": 1000},
         "model": {"preset": "fashion-cnn", "width": 8, "keep_prob": 0.7},
         "optimizer": {"name": "adam", "lr": 0.002, "betas": [0.9, 0.999], "schedule": {"type": "exponential", "rate": 0.8}},
         "epochs": 3, "batch_size": 64, "l2": 0.5, "early_stopping": {"patience": 2},
         "augmentation": {"horizontal_flip": true, "crop_padding": 2}, "seed": 7}
        """

    func parse(_ s: String) throws -> Recipe { try Recipe.parse(Data(s.utf8)) }

    /// Parses `good` with `edit` applied to its JSON object, then validates.
    func recipe(_ edit: (inout [String: Any]) -> Void) throws -> Recipe {
        var o = try JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
        edit(&o)
        let r = try Recipe.parse(JSONSerialization.data(withJSONObject: o))
        try r.validate()
        return r
    }

    func assertInvalid(_ expected: String, file: StaticString = #filePath, line: UInt = #line, _ edit: (inout [String: Any]) -> Void) {
        XCTAssertThrowsError(try recipe(edit), file: file, line: line) { e in
            guard case TrainingError.invalidRecipe(let m) = e else { return XCTFail("\(e)", file: file, line: line) }
            XCTAssertTrue(m.contains(expected), "'\(m)' does not contain '\(expected)'", file: file, line: line)
        }
    }

    func testParsesDefaultsAndRoundTrips() throws {
        let r = try parse(good)
        try r.validate()
        XCTAssertEqual(r.dataset.devFraction, 0.1)
        XCTAssertEqual(r.normalize, true)
        XCTAssertEqual(r.augmentation, Augmentation(horizontalFlip: true, cropPadding: 2))
        XCTAssertEqual(try r.schedule(), .exponential(rate: 0.8))
        XCTAssertEqual(r.updateRule().name, "adam")
        XCTAssertEqual(try Recipe.parse(r.encoded()), r)
        let minimal = try parse(#"{"name": "m", "dataset": {"name": "fashion-mnist"}, "model": {"preset": "mlp"}, "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 1, "batch_size": 8}"#)
        try minimal.validate()
        XCTAssertEqual(minimal.seed, 0)
        XCTAssertEqual(minimal.l2, 0)
        XCTAssertEqual(try minimal.schedule(), .constant)
    }

    /// Every shipped recipe parses (its fields are all known), and the
    /// embeddings section is checked field by field like the rest.
    func testShippedRecipesParse() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../recipes").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        XCTAssertTrue(files.contains("sentiment-rt.json"))
        for f in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(f))
            if SkipGramRecipe.isRecipe(data) {
                XCTAssertNoThrow(try SkipGramRecipe.parse(data), f)
            } else if TranslationRecipe.isRecipe(data) {
                XCTAssertNoThrow(try TranslationRecipe.parse(data), f)
            } else if DetectionRecipe.isRecipe(data) {
                XCTAssertNoThrow(try DetectionRecipe.parse(data), f)
            } else if FaceRecipe.isRecipe(data) {
                XCTAssertNoThrow(try FaceRecipe.parse(data), f)
            } else {
                XCTAssertNoThrow(try Recipe.load(dir.appendingPathComponent(f)), f)
            }
        }
        let rt = try Recipe.load(dir.appendingPathComponent("sentiment-rt.json"))
        XCTAssertEqual(rt.model.embeddings, .init(layer: "embed", vectors: "glove-6b-50d"))
        var raw = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("sentiment-rt.json"))) as! [String: Any]
        var model = raw["model"] as! [String: Any]
        model["embeddings"] = ["layer": "embed", "vectors": "glove-6b-50d", "freeze": true]
        raw["model"] = model
        XCTAssertThrowsError(try Recipe.parse(JSONSerialization.data(withJSONObject: raw))) { error in
            XCTAssertEqual("\(error)".contains("unknown field 'model.embeddings.freeze'"), true, "\(error)")
        }
    }

    func testDecodingErrorsNameTheField() {
        func check(_ json: String, _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try parse(json), line: line) { e in
                XCTAssertTrue("\(e)".contains(expected), "'\(e)' does not contain '\(expected)'", line: line)
            }
        }
        check("{", "not valid JSON")
        check(#"{"name": "x"}"#, "missing field 'dataset'")
        check(good.replacingOccurrences(of: #""lr": 0.002"#, with: #""learning_rate": 0.002"#), "unknown field 'optimizer.learning_rate'")
        check(good.replacingOccurrences(of: #""epochs": 3"#, with: #""epochs": "3""#), "field 'epochs' must be an integer")
        check(good.replacingOccurrences(of: #""seed": 7"#, with: #""seeed": 7"#), "unknown field 'seeed'")
        check(good.replacingOccurrences(of: #""crop_padding": 2"#, with: #""crop": 2"#), "unknown field 'augmentation.crop'")
        let arch = good.replacingOccurrences(of: #"{"preset": "fashion-cnn", "width": 8, "keep_prob": 0.7}"#, with: """
            {"architecture": {"input_shape": [1, 28, 28], "layers": [{"name": "f", "type": "flatten", "inputs": ["input"], "atrs": {}}]}}
            """)
        check(arch, "unknown field 'model.architecture.layers[0].atrs'")
    }

    func testValidationErrorsNameTheField() {
        assertInvalid("optimizer.lr must be > 0") { o in o["optimizer"] = ["name": "adam", "lr": 0] }
        assertInvalid("optimizer.name: unknown optimizer 'adamw'") { o in o["optimizer"] = ["name": "adamw", "lr": 0.1] }
        assertInvalid("optimizer.betas must be two numbers in [0, 1)") { o in o["optimizer"] = ["name": "adam", "lr": 0.1, "betas": [0.9]] }
        assertInvalid("optimizer.momentum applies to the 'momentum' optimizer only") { o in o["optimizer"] = ["name": "adam", "lr": 0.1, "momentum": 0.9] }
        assertInvalid("optimizer.schedule.rate is required") { o in o["optimizer"] = ["name": "sgd", "lr": 0.1, "schedule": ["type": "exponential"]] }
        assertInvalid("optimizer.schedule.type: unknown schedule 'linear'") { o in o["optimizer"] = ["name": "sgd", "lr": 0.1, "schedule": ["type": "linear"]] }
        assertInvalid("optimizer.clip_norm must be > 0") { o in o["optimizer"] = ["name": "sgd", "lr": 0.1, "clip_norm": -1] }
        assertInvalid("epochs must be at least 1") { o in o["epochs"] = 0 }
        assertInvalid("epochs 1000 exceeds the maximum of 200") { o in o["epochs"] = 1000 }
        assertInvalid("batch_size must be at least 1") { o in o["batch_size"] = 0 }
        assertInvalid("l2 must be >= 0") { o in o["l2"] = -1 }
        assertInvalid("dataset.dev_fraction must be between 0 and 0.5") { o in o["dataset"] = ["name": "fashion-mnist", "dev_fraction": 0.9] }
        assertInvalid("early_stopping needs a dev set") { o in o["dataset"] = ["name": "fashion-mnist", "dev_fraction": 0] }
        assertInvalid("early_stopping.patience must be at least 1") { o in o["early_stopping"] = ["patience": 0] }
        assertInvalid("augmentation.crop_padding must be between 0 and 16") { o in o["augmentation"] = ["crop_padding": 40] }
        assertInvalid("model.preset: unknown preset 'resnet'") { o in o["model"] = ["preset": "resnet"] }
        assertInvalid("model must have exactly one of") { o in o["model"] = ["preset": "mlp", "base": "x"] }
        assertInvalid("model must have exactly one of") { o in o["model"] = [String: Any]() }
        assertInvalid("model.keep_prob must be in (0, 1]") { o in o["model"] = ["preset": "mlp", "keep_prob": 0] }
        assertInvalid("name 'a/b' must be") { o in o["name"] = "a/b" }
        assertInvalid("labels must be distinct") { o in o["labels"] = ["a", "a"] }
        assertInvalid("model.architecture.layers[1].type: unknown layer 'foo'") { o in
            o["model"] = ["architecture": ["input_shape": [1, 28, 28], "layers": [
                ["name": "flat", "type": "flatten", "inputs": ["input"]],
                ["name": "x", "type": "foo", "inputs": ["flat"]],
            ]]]
        }
    }

    func testLimitsAreConfigurable() throws {
        let r = try parse(good)
        XCTAssertThrowsError(try r.validate(limits: RecipeLimits(maxEpochs: 2))) { XCTAssertTrue("\($0)".contains("epochs 3 exceeds the maximum of 2")) }
        XCTAssertThrowsError(try r.validate(limits: RecipeLimits(maxTrainImages: 500))) { XCTAssertTrue("\($0)".contains("dataset.limit 1000 exceeds")) }
        XCTAssertThrowsError(try r.validate(limits: RecipeLimits(maxBatchSize: 32))) { XCTAssertTrue("\($0)".contains("batch_size 64 exceeds")) }
    }

    // MARK: plans (real data)

    func testPlanResolvesPresetSplitsAndNormalization() throws {
        let plan = try TrainingPlan(recipe: parse(good), datasets: DatasetRegistry())
        XCTAssertEqual(plan.train.count, 900)
        XCTAssertEqual(plan.dev?.count, 100)
        XCTAssertEqual(plan.test?.count, 10_000)
        XCTAssertEqual(plan.labels, FashionMNIST.classes)
        XCTAssertEqual(plan.model.outputShape, [10])
        XCTAssertEqual(plan.config.epochs, 3)
        XCTAssertEqual(plan.config.earlyStoppingPatience, 2)
        // The training split's statistics, stored in config.json for serving.
        let n = try XCTUnwrap(plan.normalization)
        XCTAssertEqual(n, Normalization.fit(plan.train.images))
        XCTAssertEqual(plan.modelConfig.input.preprocessing.mean, n.mean)
        XCTAssertEqual(plan.modelConfig.input.shape, [1, 28, 28])
        XCTAssertEqual(plan.modelConfig.labels.count, 10)
        // The same recipe gives the same split and initial weights.
        let again = try TrainingPlan(recipe: parse(good), datasets: DatasetRegistry())
        XCTAssertEqual(again.dev?.labels, plan.dev?.labels)
        XCTAssertEqual(again.model.stateDict.map(\.tensor.data), plan.model.stateDict.map(\.tensor.data))
    }

    func testPlanErrorsNameTheField() throws {
        XCTAssertThrowsError(try TrainingPlan(recipe: recipe { $0["dataset"] = ["name": "mnist"] }, datasets: DatasetRegistry())) {
            XCTAssertTrue("\($0)".contains("dataset.name: unknown dataset 'mnist'"), "\($0)")
        }
        // The rest through `check`, which shares the model checks and loads no image.
        func check(_ expected: String, line: UInt = #line, _ edit: (inout [String: Any]) -> Void) {
            XCTAssertThrowsError(try TrainingPlan.check(recipe(edit), datasets: DatasetRegistry()), line: line) { e in
                XCTAssertTrue("\(e)".contains(expected), "'\(e)' does not contain '\(expected)'", line: line)
            }
        }
        check("dataset.name: unknown dataset 'mnist'") { $0["dataset"] = ["name": "mnist"] }
        check("model.architecture.input_shape [1, 32, 32] does not match") { o in
            o["model"] = ["architecture": ["input_shape": [1, 32, 32], "layers": [["name": "f", "type": "flatten", "inputs": ["input"]]]]]
        }
        check("expected [10] for the 10 classes") { o in
            o["model"] = ["architecture": ["input_shape": [1, 28, 28], "layers": [
                ["name": "f", "type": "flatten", "inputs": ["input"]],
                ["name": "fc", "type": "dense", "inputs": ["f"], "attrs": ["units": 5]],
            ]]]
        }
        check("model.architecture.layers[1] ('fc')") { o in
            o["model"] = ["architecture": ["input_shape": [1, 28, 28], "layers": [
                ["name": "f", "type": "flatten", "inputs": ["input"]],
                ["name": "fc", "type": "dense", "inputs": ["f"], "attrs": ["units": "ten"]],
            ]]]
        }
        check("labels: 3 names for the 10 classes") { $0["labels"] = ["a", "b", "c"] }
        check("model.base: no model repository") { $0["model"] = ["base": "fashion-mnist"] }
    }

    func testCheckWithoutLoadingImages() throws {
        let info = try DatasetRegistry().describe(DatasetReference(name: "fashion-mnist", split: .train))
        XCTAssertEqual(info, DatasetRegistry.Info(imageShape: [1, 28, 28], classes: FashionMNIST.classes, count: 60_000))
        XCTAssertEqual(try IDXFile.readDims(FashionMNIST.defaultRoot.appendingPathComponent("t10k-images-idx3-ubyte.gz")), [10_000, 28, 28])
        XCTAssertNoThrow(try TrainingPlan.check(parse(good), datasets: DatasetRegistry()))
        func check(_ expected: String, limits: RecipeLimits = .default, line: UInt = #line, _ edit: (inout [String: Any]) -> Void) {
            XCTAssertThrowsError(try TrainingPlan.check(recipe(edit), datasets: DatasetRegistry(), limits: limits), line: line) { e in
                XCTAssertTrue("\(e)".contains(expected), "'\(e)' does not contain '\(expected)'", line: line)
            }
        }
        check("dataset.name: unknown dataset 'cifar'") { $0["dataset"] = ["name": "cifar"] }
        check("60000 training images, more than the maximum of 1000", limits: RecipeLimits(maxTrainImages: 1000)) {
            $0["dataset"] = ["name": "fashion-mnist"]
        }
        check("model has 468138 parameters, more than the maximum of 1000", limits: RecipeLimits(maxParameters: 1000)) {
            $0["model"] = ["preset": "fashion-cnn"]
        }
        check("model.architecture.layers[0] ('c')") { o in
            o["model"] = ["architecture": ["input_shape": [1, 28, 28], "layers": [
                ["name": "c", "type": "conv2d", "inputs": ["input"], "attrs": ["out_channels": 4, "kernel_size": 40]],
            ]]]
        }
    }

    func testTrainPublishAndFineTuneThroughTheRepository() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("repo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let repo = ModelRepository(root: root)
        let r = try recipe { o in
            o["dataset"] = ["name": "fashion-mnist", "dev_fraction": 0.2, "limit": 500, "test_limit": 200]
            o["model"] = ["preset": "mlp", "width": 32]
            o["epochs"] = 3
            o["batch_size"] = 16
        }
        let plan = try TrainingPlan(recipe: r, datasets: DatasetRegistry(), repository: repo)
        let trainer = plan.makeTrainer()
        let summary = try trainer.fit()
        let report = plan.report(model: trainer.model, summary: summary)
        XCTAssertEqual(report.testImages, 200)
        XCTAssertEqual(report.perClassAccuracy?.count, 10)
        XCTAssertGreaterThan(try XCTUnwrap(report.testAccuracy), 0.5)
        XCTAssertEqual(try plan.publish(trainer.model, report: report, to: repo), 1)
        let loaded = try repo.load(r.name, version: 1)
        XCTAssertEqual(loaded.config.labels, FashionMNIST.classes)
        XCTAssertEqual(loaded.config.input.preprocessing.mean, plan.normalization?.mean)
        // The published model computes what the trained one does.
        let x = try FashionMNIST.load(.test).prefix(5).images
        XCTAssertEqual(loaded.model.infer(plan.normalization!(x)).data, trainer.model.infer(plan.normalization!(x)).data)

        // Fine-tune version 1 into version 2: the base weights are the start, the normalization is reused.
        var ft = r
        ft.model = .init(base: r.name, version: 1)
        ft.epochs = 1
        let plan2 = try TrainingPlan(recipe: ft, datasets: DatasetRegistry(), repository: repo)
        XCTAssertEqual(plan2.baseVersion, 1)
        XCTAssertEqual(plan2.normalization, plan.normalization)
        XCTAssertEqual(plan2.model.stateDict.map(\.tensor.data), loaded.model.stateDict.map(\.tensor.data))
        let t2 = plan2.makeTrainer()
        let report2 = plan2.report(model: t2.model, summary: try t2.fit())
        XCTAssertEqual(report2.baseVersion, 1)
        XCTAssertEqual(try plan2.publish(t2.model, report: report2, to: repo), 2)
        XCTAssertEqual(try repo.versions(of: r.name), [1, 2])
        // A recipe whose labels differ from the existing model's is refused.
        var other = r
        other.labels = (0..<10).map { "c\($0)" }
        XCTAssertThrowsError(try TrainingPlan(recipe: other, datasets: DatasetRegistry(), repository: repo, loadTest: false)) {
            XCTAssertTrue("\($0)".contains("already has labels"), "\($0)")
        }
    }
}
