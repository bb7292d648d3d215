import DLNN
import DLServing
import DLTrain
import DLVision
import Foundation
import XCTest

/// The shipped detectors on their test data (no training step saw it):
/// detect-fashion on the first 200 of the 1,000 seeded test scenes, and
/// detect-trees on the deepforest wheel's two test photos (`make test` makes
/// both splits). `make eval-detection EVAL_ARGS=--write-metrics` scored them
/// beside onnxruntime + pycocotools on the same graph and recorded the
/// figures in metrics.json; these tests run the models again and hold them
/// to the record (within 0.005 mAP: another BLAS thread count may reorder
/// sums and so near-tied scores). Whether a version meets the issue's bar
/// (detect-fashion mAP@0.5 >= 0.90) is that record, printed here and in the
/// README, not a condition of the build: version 2 does not (0.59).
final class ShippedDetectionModelTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func number(_ v: JSONValue?, _ path: String...) -> Double? {
        var v = v
        for p in path { guard case .object(let o)? = v else { return nil }; v = o[p] }
        if case .number(let x)? = v { return x }
        return nil
    }

    /// (VOC mAP@0.5, COCO mAP, precision and recall at IoU 0.4) of the latest
    /// version of `name` on the first `limit` images of its test split, and its metrics.json.
    func measure(_ name: String, limit: Int?) throws -> (DetectionRecipe.DetectionScores, JSONValue?)? {
        let repository = ModelRepository(root: Self.root.appendingPathComponent("models"))
        guard (try? repository.versions(of: name))?.isEmpty == false else { return nil }
        let (loaded, skipped) = try repository.loadLatestValid(name)
        XCTAssertEqual(skipped, [])
        XCTAssertEqual(loaded.config.task, .detection)
        let split = Self.root.appendingPathComponent("data/\(name)/test.json")
        guard FileManager.default.fileExists(atPath: split.path) else {
            XCTFail("\(split.path) is missing: make test (or make data-detection) writes it")
            return nil
        }
        let scenes = try DetectionSplit.load(split, limit: limit)
        XCTAssertEqual(scenes.classes, loaded.config.labels)
        let grid = try FileModelStore.detectionGrid(loaded)
        let bench = Detector(grid: grid, model: loaded.model).benchmark(scenes.scenes)
        return (DetectionRecipe.DetectionScores(bench, classes: scenes.classes), loaded.metrics)
    }

    func testTheFashionDetectorHoldsItsScoreOnTheTestSlice() throws {
        guard let (scores, metrics) = try measure("detect-fashion", limit: 200) else {
            throw XCTSkip("no detect-fashion model is shipped yet")
        }
        XCTAssertEqual(scores.images, 200)
        let recorded = try XCTUnwrap(number(metrics, "test", "slice", "map50"), "metrics.json test.slice (make eval-detection EVAL_ARGS=--write-metrics)")
        let whole = try XCTUnwrap(number(metrics, "test", "dlserve", "map50"))
        let peer = try XCTUnwrap(number(metrics, "test", "onnxruntime_pycocotools", "coco_map"))
        print("detect-fashion: slice mAP@0.5 \(scores.vocMAP50) (recorded \(recorded)), COCO mAP \(scores.cocoMAP); "
              + "1,000 scenes: mAP@0.5 \(whole), onnxruntime + pycocotools COCO mAP \(peer)")
        XCTAssertEqual(scores.vocMAP50, recorded, accuracy: 0.005)
        print("detect-fashion: the issue's bar is mAP@0.5 >= 0.90 on the 1,000 test scenes: \(whole >= 0.9 ? "met" : "not met")")
        XCTAssertGreaterThan(scores.vocMAP50, 0.4, "far above chance (0.1 classes x localisation)")
        XCTAssertEqual(number(metrics, "test", "dlserve", "coco_map") ?? -1, peer, accuracy: 0.01, "the same graph in onnxruntime, scored by pycocotools")
    }

    func testTheTreeDetectorHoldsItsScoresOnTheTestPhotos() throws {
        guard let (scores, metrics) = try measure("detect-trees", limit: nil) else {
            throw XCTSkip("no detect-trees model is shipped yet")
        }
        XCTAssertEqual(scores.images, 2)
        let recorded = try XCTUnwrap(number(metrics, "test", "dlserve", "map50"), "metrics.json test (make eval-detection EVAL_ARGS=--write-metrics)")
        print("detect-trees: mAP@0.5 \(scores.vocMAP50) (recorded \(recorded)), precision \(scores.precision40), recall \(scores.recall40) at IoU 0.4")
        XCTAssertEqual(scores.vocMAP50, recorded, accuracy: 0.005)
        XCTAssertEqual(scores.precision40, try XCTUnwrap(number(metrics, "test", "dlserve", "precision_iou40")), accuracy: 0.01)
        XCTAssertEqual(scores.recall40, try XCTUnwrap(number(metrics, "test", "dlserve", "recall_iou40")), accuracy: 0.01)
        XCTAssertGreaterThan(scores.vocMAP50, 0.1, "finds some of the trees of other forests (v1: 0.155)")
    }
}
