import DLNN
import DLTensor
import DLTrain
import DLVision
import Foundation
import XCTest

/// Training a face embedding end to end on a folder-per-person set: the
/// mini set of data/faces (8 people x 12 augmented photos; 4 unseen people in
/// mini/test with 2 folds of pairs), written by scripts/data/prepare_faces.py.
final class FaceTrainingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let mini = root.appendingPathComponent("data/faces/mini")

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Self.mini.appendingPathComponent("test/pairs.txt").path) else {
            XCTFail("\(Self.mini.path) is missing: make test (or make data-faces) writes it")
            throw XCTSkip("no mini face set")
        }
    }

    func recipe(loss: String = "triplet", mining: String = "semi_hard", epochs: Int = 3, devIdentities: Int = 2) throws -> FaceRecipe {
        let json = """
        {"name": "face-mini", "task": "embedding",
         "data": {"dir": "\(Self.mini.path)", "train": "train", "dev_identities": \(devIdentities), "dev_pairs": 40},
         "input": {"shape": [1, 16, 16], "color": "grayscale", "preprocessing": {"scale": 0.00392156862745098, "mean": [0.5], "std": [0.25]}},
         "model": {"inputs": [{"name": "image", "shape": [1, 16, 16]}], "outputs": ["e"], "layers": [
            {"name": "c1", "type": "conv2d", "inputs": ["image"], "attrs": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
            {"name": "r1", "type": "relu", "inputs": ["c1"]},
            {"name": "p1", "type": "max_pool2d", "inputs": ["r1"], "attrs": {"kernel_size": 2}},
            {"name": "f", "type": "flatten", "inputs": ["p1"]},
            {"name": "d", "type": "dense", "inputs": ["f"], "attrs": {"units": 16}},
            {"name": "e", "type": "l2_normalize", "inputs": ["d"]}]},
         "objective": {"loss": "\(loss)", "mining": "\(mining)", "alpha": 0.2},
         "batch": {"identities": 4, "images": 4}, "steps_per_epoch": 15,
         "augmentation": {"flip": 0.5, "shift": 1},
         "optimizer": {"lr": 0.003, "warmup_steps": 5}, "epochs": \(epochs), "seed": 3}
        """
        return try FaceRecipe.parse(Data(json.utf8))
    }

    /// Ten-fold-style score of a trained model on mini/test's pairs.
    func score(_ trained: FaceRecipe.Trained, _ r: FaceRecipe) throws -> VerificationScore {
        let set = try FaceSet.load(Self.mini.appendingPathComponent("test"), preprocessing: try r.input.imagePreprocessing())
        let pairs = try FacePairs.load(Self.mini.appendingPathComponent("test/pairs.txt"))
        let d = FaceEmbedder(model: trained.model, verification: trained.verification).distances(set, pairs: try pairs.indices(in: set))
        return Verification.kFold(distances: d, same: pairs.pairs.map(\.same), folds: pairs.pairs.map(\.fold))
    }

    func testTripletTrainingLowersTheLossAndSeparatesUnseenPeople() throws {
        let r = try recipe(epochs: 4)
        let t = try r.train(base: Self.root)
        XCTAssertEqual(t.trainIdentities, 6)
        XCTAssertEqual(t.history.count, 4)
        XCTAssertLessThan(t.history.last!.loss, t.history.first!.loss, "\(t.history.map(\.loss))")
        XCTAssertEqual(t.verification.metric, .squaredEuclidean)
        XCTAssertEqual(t.verification.dim, 16)
        XCTAssertTrue((0...4).contains(t.verification.tau), "tau \(t.verification.tau) for unit vectors")
        let s = try score(t, r)
        XCTAssertEqual(s.pairs, 80)
        XCTAssertGreaterThan(s.auc, 0.6, "unseen people's pairs: \(s)")
    }

    func testSiamesePairClassifierTrains() throws {
        let r = try recipe(loss: "siamese", epochs: 3)
        let t = try r.train(base: Self.root)
        XCTAssertEqual(t.verification.metric, .pairClassifier)
        XCTAssertEqual(t.verification.weights?.count, 16)
        XCTAssertNil(t.verification.problem)
        XCTAssertLessThan(t.history.last!.loss, t.history.first!.loss, "\(t.history.map(\.loss))")
        XCTAssertGreaterThan(try score(t, r).auc, 0.6)
    }

    func testResumedRunRepeatsTheUninterruptedOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("face-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = try recipe(epochs: 2).train(base: Self.root)
        let ckpt = dir.appendingPathComponent("c.safetensors")
        // The same two-epoch run, stopped after its first epoch (as by SIGKILL after the checkpoint).
        XCTAssertThrowsError(try recipe(epochs: 2).train(base: Self.root, checkpoint: ckpt, configure: { trainer in
            trainer.isCancelled = { [unowned trainer] in trainer.epochsCompleted >= 1 }
        }))
        XCTAssertEqual(try FaceCheckpoint.load(from: ckpt).epochsCompleted, 1)
        let resumed = try recipe(epochs: 2).train(base: Self.root, checkpoint: ckpt)
        XCTAssertEqual(resumed.history.map(\.loss), whole.history.map(\.loss))
        XCTAssertEqual(resumed.history.map(\.devAccuracy), whole.history.map(\.devAccuracy))
        XCTAssertTrue(resumed.model.stateDict.map(\.tensor.data) == whole.model.stateDict.map(\.tensor.data), "weights differ")
        XCTAssertEqual(resumed.verification, whole.verification)
    }

    func testPublishedVersionHasVerificationFileAndMetrics() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("face-repo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = ModelRepository(root: dir)
        let (version, _) = try recipe(epochs: 1).run(base: Self.root, repository: repo)
        XCTAssertEqual(version, 1)
        let v = dir.appendingPathComponent("face-mini/1")
        let file = try VerificationFile.load(v.appendingPathComponent(VerificationFile.fileName))
        XCTAssertEqual(file.dim, 16)
        XCTAssertEqual(try repo.config(of: "face-mini").task, .embedding)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: v.appendingPathComponent("metrics.json"))) as! [String: Any]
        XCTAssertEqual(metrics["train_identities"] as? Int, 6)
        XCTAssertEqual((metrics["epochs"] as? [Any])?.count, 1)
    }

    func testRecipeErrorsNameTheField() throws {
        func fails(_ edit: (inout [String: Any]) -> Void, _ field: String, file: StaticString = #filePath, line: UInt = #line) throws {
            var j = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try recipe())) as! [String: Any]
            edit(&j)
            XCTAssertThrowsError(try FaceRecipe.parse(JSONSerialization.data(withJSONObject: j)), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(field), "\($0)", file: file, line: line)
            }
        }
        try fails({ $0["batch"] = ["identities": 1, "images": 4] }, "batch.identities")
        try fails({ $0["batch"] = ["identities": 4, "images": 1] }, "batch.images")
        try fails({ $0["objective"] = ["mining": "hardest"] }, "objective.mining")
        try fails({ $0["objective"] = ["alpha": -1] }, "objective.alpha")
        try fails({ $0["surprise"] = 1 }, "surprise")
        try fails({ $0["input"] = ["shape": [1, 8, 8]] }, "model")
        try fails({ $0["data"] = ["dev_pairs": 0] }, "data.dev_pairs")
        // Missing photos are a dataset error naming the folder.
        var r = try recipe()
        r.data.train = "nowhere"
        XCTAssertThrowsError(try r.train(base: Self.root)) { XCTAssertTrue("\($0)".contains("nowhere"), "\($0)") }
    }
}
