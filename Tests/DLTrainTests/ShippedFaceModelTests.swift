import DLNN
import DLServing
import DLTrain
import Foundation
import XCTest

/// The shipped face embedding on the fixed folds of the 30 unseen test people
/// (data/faces/test with its pairs.txt; `make test` writes them): the LFW
/// ten-fold protocol run again and held to the figures
/// `make eval-faces EVAL_ARGS=--write-metrics` recorded in metrics.json
/// (which also hold the peers of the same run: eigenfaces, raw pixels, and
/// the same network trained by PyTorch), above the peers. Whether a version
/// meets the issue's bar (ten-fold accuracy >= 0.95) is printed, and asserted
/// for a version whose record meets it.
final class ShippedFaceModelTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bar = 0.95

    func number(_ v: JSONValue?, _ path: String...) -> Double? {
        var v = v
        for p in path { guard case .object(let o)? = v else { return nil }; v = o[p] }
        if case .number(let x)? = v { return x }
        return nil
    }

    func testTheFaceEmbeddingHoldsItsTenFoldAccuracyOnUnseenPeople() throws {
        let repository = ModelRepository(root: Self.root.appendingPathComponent("models"))
        guard (try? repository.versions(of: "face-embed"))?.isEmpty == false else { throw XCTSkip("no face-embed model is shipped yet") }
        let (loaded, skipped) = try repository.loadLatestValid("face-embed")
        XCTAssertEqual(skipped, [])
        let dir = Self.root.appendingPathComponent("data/faces/test")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("pairs.txt").path) else {
            return XCTFail("\(dir.path)/pairs.txt is missing: make test (or make data-faces) writes it")
        }
        let verification = try FileModelStore.verificationFile(loaded)
        let set = try FaceSet.load(dir, preprocessing: try loaded.config.input.imagePreprocessing())
        let pairs = try FacePairs.load(dir.appendingPathComponent("pairs.txt"))
        let distances = FaceEmbedder(model: loaded.model, verification: verification).distances(set, pairs: try pairs.indices(in: set))
        let same = pairs.pairs.map(\.same)
        let score = Verification.kFold(distances: distances, same: same, folds: pairs.pairs.map(\.fold))
        XCTAssertEqual(score.pairs, 6000)
        XCTAssertEqual(score.folds, 10)
        XCTAssertEqual(set.names.count, 30)

        let recorded = try XCTUnwrap(number(loaded.metrics, "cross_check", "dlserve", "accuracy_mean"),
                                     "metrics.json cross_check (make eval-faces EVAL_ARGS=--write-metrics)")
        let eigenfaces = try XCTUnwrap(number(loaded.metrics, "peers", "eigenfaces", "accuracy_mean"))
        let atTau = Verification.accuracy(distances: distances, same: same, tau: verification.tau)
        print(String(format: "face-embed v%d: ten-fold accuracy %.4f +- %.4f (recorded %.4f), AUC %.4f, %.4f at the shipped tau %.3f; "
                     + "eigenfaces %.4f; the issue's bar %.2f: %@", loaded.version, score.accuracyMean, score.accuracyStd, recorded,
                     score.auc, atTau, verification.tau, eigenfaces, Self.bar, score.accuracyMean >= Self.bar ? "met" : "not met"))
        // Another BLAS thread count may reorder sums: near-tied pairs can flip.
        XCTAssertEqual(score.accuracyMean, recorded, accuracy: 0.002)
        // A version recorded as meeting the bar must meet it here too.
        if recorded >= Self.bar { XCTAssertGreaterThanOrEqual(score.accuracyMean, Self.bar) }
        XCTAssertGreaterThan(score.accuracyMean, eigenfaces + 0.2, "far above the classical peer of the same run")
        XCTAssertGreaterThan(atTau, 0.85, "the shipped tau (chosen on held-out training people) works on unseen ones")
        if let torch = number(loaded.metrics, "peers", "pytorch_same_recipe", "accuracy_mean") {
            print(String(format: "face-embed: the same recipe trained by PyTorch: %.4f", torch))
        }
    }
}
