import DLVision
import Foundation
import XCTest

/// Box IoU, NMS and mAP: hand-worked cases, then the reference values of
/// scripts/fixtures/detection_fixtures.py (torchvision's NMS rules, pycocotools'
/// COCOeval, the VOC devkit's all-point AP).
final class DetectionMetricsTests: XCTestCase {
    struct Fixture: Decodable {
        struct IoU: Decodable { var a: [[Double]]; var b: [[Double]]; var iou: [[Double]] }
        struct NMS: Decodable {
            var boxes: [[Double]]; var scores: [Double]; var labels: [Int]; var keep: [String: [Int]]
            var batchedKeep: [Int]
            enum CodingKeys: String, CodingKey { case boxes, scores, labels, keep, batchedKeep = "batched_keep_0.5" }
        }
        struct Object: Decodable { var box: [Double]; var label: Int; var score: Double? }
        struct COCO: Decodable { var map: Double; var ap50: Double; var ap75: Double; var per_class: [String: Double] }
        struct Eval: Decodable { var ground_truth: [[Object]]; var detections: [[Object]]; var coco: COCO; var voc: [String: Double] }
        var iou: IoU; var nms: NMS; var eval: Eval
    }

    static let fixture: Fixture = {
        let url = Bundle.module.url(forResource: "detection", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func box(_ v: [Double]) -> Box { Box(x1: v[0], y1: v[1], x2: v[2], y2: v[3]) }
    func detection(_ o: Fixture.Object) -> Detection { Detection(box: box(o.box), label: o.label, score: o.score ?? 1) }

    // MARK: IoU

    func testIoUByHand() {
        let a = Box(x1: 0, y1: 0, x2: 10, y2: 10)
        XCTAssertEqual(a.iou(a), 1)
        // Overlap 5 x 10 = 50, union 100 + 100 - 50 = 150.
        XCTAssertEqual(a.iou(Box(x1: 5, y1: 0, x2: 15, y2: 10)), 50.0 / 150, accuracy: 1e-12)
        // Touching edges: no overlap.
        XCTAssertEqual(a.iou(Box(x1: 10, y1: 0, x2: 20, y2: 10)), 0)
        // Nested: 4 / 100.
        XCTAssertEqual(a.iou(Box(x1: 2, y1: 2, x2: 4, y2: 4)), 0.04, accuracy: 1e-12)
        // Empty boxes have no area and IoU 0, never NaN.
        let empty = Box(x1: 3, y1: 3, x2: 3, y2: 8)
        XCTAssertEqual(empty.area, 0)
        XCTAssertEqual(empty.iou(empty), 0)
        XCTAssertEqual(Box(centerX: 5, centerY: 5, width: 10, height: 4), Box(x1: 0, y1: 3, x2: 10, y2: 7))
        XCTAssertEqual(Box(x1: -5, y1: 2, x2: 30, y2: 9).clipped(width: 20, height: 8), Box(x1: 0, y1: 2, x2: 20, y2: 8))
    }

    func testIoUMatchesTheReference() {
        let f = Self.fixture.iou
        for (i, a) in f.a.enumerated() {
            for (j, b) in f.b.enumerated() {
                XCTAssertEqual(box(a).iou(box(b)), f.iou[i][j], accuracy: 1e-12, "iou[\(i)][\(j)]")
            }
        }
    }

    // MARK: NMS

    func testNMSByHand() {
        let boxes = [Box(x1: 0, y1: 0, x2: 10, y2: 10), Box(x1: 1, y1: 1, x2: 11, y2: 11), Box(x1: 50, y1: 50, x2: 60, y2: 60),
                     Box(x1: 0, y1: 5, x2: 10, y2: 15)]
        // IoU(0, 1) = 81 / 119 = 0.68; IoU(0, 3) = 50 / 150 = 0.33; IoU(1, 3) = 54 / 146 = 0.37.
        XCTAssertEqual(nonMaxSuppression(boxes, scores: [0.9, 0.8, 0.7, 0.6], iouThreshold: 0.5), [0, 2, 3])
        XCTAssertEqual(nonMaxSuppression(boxes, scores: [0.9, 0.8, 0.7, 0.6], iouThreshold: 0.3), [0, 2])
        // A suppressed box suppresses nothing: at 0.35, 1 would remove 3, but 0 removed 1 first.
        XCTAssertEqual(nonMaxSuppression(boxes, scores: [0.9, 0.8, 0.7, 0.6], iouThreshold: 0.35), [0, 2, 3])
        XCTAssertEqual(nonMaxSuppression(boxes, scores: [0.1, 0.8, 0.7, 0.6], iouThreshold: 0.5), [1, 2, 3])
        // IoU exactly at the threshold is kept (suppression needs IoU > threshold).
        XCTAssertEqual(nonMaxSuppression([boxes[0], Box(x1: 5, y1: 0, x2: 15, y2: 10)], scores: [1, 1], iouThreshold: 1.0 / 3),
                       [0, 1])
        XCTAssertEqual(nonMaxSuppression([], scores: [], iouThreshold: 0.5), [])
    }

    func testNMSMatchesTorchvisionsRules() {
        let f = Self.fixture.nms
        let boxes = f.boxes.map(box)
        for (t, keep) in f.keep {
            XCTAssertEqual(nonMaxSuppression(boxes, scores: f.scores, iouThreshold: Double(t)!), keep, "threshold \(t)")
            XCTAssertLessThan(keep.count, boxes.count, "the fixture suppresses something at \(t)")
        }
        // batched_nms: per class; the result by decreasing score.
        let detections = zip(zip(boxes, f.labels), f.scores).map { Detection(box: $0.0, label: $0.1, score: $1) }
        let filter = DetectionFilter(scoreThreshold: 0, iouThreshold: 0.5, maxDetections: 1000)
        XCTAssertEqual(filter.apply(detections), f.batchedKeep.map { detections[$0] })
    }

    func testDetectionFilterThresholdsClassesAndCap() {
        let d = [Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0, score: 0.9),
                 Detection(box: Box(x1: 1, y1: 1, x2: 11, y2: 11), label: 0, score: 0.8),   // suppressed by the first
                 Detection(box: Box(x1: 1, y1: 1, x2: 11, y2: 11), label: 1, score: 0.7),   // another class: kept
                 Detection(box: Box(x1: 40, y1: 40, x2: 50, y2: 50), label: 2, score: 0.2)] // under the threshold
        XCTAssertEqual(DetectionFilter(scoreThreshold: 0.25, iouThreshold: 0.5).apply(d), [d[0], d[2]])
        XCTAssertEqual(DetectionFilter(scoreThreshold: 0.25, iouThreshold: 0.5, maxDetections: 1).apply(d), [d[0]])
        XCTAssertEqual(DetectionFilter(scoreThreshold: 0, iouThreshold: 0.5, classes: [1, 2]).apply(d), [d[2], d[3]])
        XCTAssertEqual(DetectionFilter(scoreThreshold: 0, iouThreshold: 0.9).apply(d), [d[0], d[1], d[2], d[3]])
    }

    // MARK: mAP

    func testAveragePrecisionByHand() {
        // One image, two objects of class 0; three detections: a hit (0.9), a
        // miss (0.8), a hit (0.7). Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
        let gt = [Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0),
                  Detection(box: Box(x1: 20, y1: 20, x2: 30, y2: 30), label: 0)]
        let dt = [Detection(box: Box(x1: 0, y1: 0, x2: 10, y2: 10), label: 0, score: 0.9),
                  Detection(box: Box(x1: 60, y1: 60, x2: 70, y2: 70), label: 0, score: 0.8),
                  Detection(box: Box(x1: 20, y1: 20, x2: 30, y2: 30), label: 0, score: 0.7)]
        let bench = DetectionBenchmark(groundTruth: [gt], detections: [dt])
        // VOC all-point: 0.5 * 1 + 0.5 * 2/3.
        XCTAssertEqual(bench.vocAveragePrecision(label: 0), 0.5 + 1.0 / 3, accuracy: 1e-12)
        // COCO: recall points 0...0.5 (51) at precision 1, 0.51...1 (50) at 2/3; exact boxes, so every threshold agrees.
        let coco = bench.coco()
        XCTAssertEqual(coco.map, (51 + 50 * 2.0 / 3) / 101, accuracy: 1e-9)
        XCTAssertEqual(coco.ap50, coco.map, accuracy: 1e-12)
        // A duplicate of a matched object is a false positive.
        let dup = DetectionBenchmark(groundTruth: [[gt[0]]], detections: [[dt[0], dt[0]]])
        XCTAssertEqual(dup.vocAveragePrecision(label: 0), 1, accuracy: 1e-12)
        let missed = DetectionBenchmark(groundTruth: [[gt[0]]], detections: [[]])
        XCTAssertEqual(missed.vocAveragePrecision(label: 0), 0)
        XCTAssertEqual(missed.coco().map, 0)
    }

    func testMAPMatchesPycocotoolsAndTheVOCDevkit() {
        let f = Self.fixture.eval
        let bench = DetectionBenchmark(groundTruth: f.ground_truth.map { $0.map(detection) },
                                       detections: f.detections.map { $0.map(detection) })
        let coco = bench.coco()
        XCTAssertEqual(coco.map, f.coco.map, accuracy: 1e-9)
        XCTAssertEqual(coco.ap50, f.coco.ap50, accuracy: 1e-9)
        XCTAssertEqual(coco.ap75, f.coco.ap75, accuracy: 1e-9)
        for (label, ap) in f.coco.per_class { XCTAssertEqual(coco.perClass[Int(label)!] ?? -1, ap, accuracy: 1e-9, "class \(label)") }
        let voc = bench.vocMeanAveragePrecision()
        for (label, ap) in f.voc { XCTAssertEqual(voc.perClass[Int(label)!] ?? -1, ap, accuracy: 1e-9, "VOC class \(label)") }
        XCTAssertEqual(voc.mean, f.voc.values.reduce(0, +) / Double(f.voc.count), accuracy: 1e-9)
        XCTAssertGreaterThan(coco.ap50, coco.map, "the fixture's jitter separates the thresholds")
    }

    // MARK: anchors

    func testAnchorKMeansFindsTheClusters() {
        // Three tight clusters of sizes: k = 3 finds their means; IoU near 1.
        var sizes: [AnchorKMeans.Size] = []
        for (w, h) in [(10.0, 10.0), (40.0, 20.0), (20.0, 60.0)] {
            for d in [-1.0, 0, 1] { sizes.append(.init(width: w + d, height: h - d)) }
        }
        let k = AnchorKMeans(sizes: sizes, k: 3)
        XCTAssertEqual(k.anchors, [.init(width: 10, height: 10), .init(width: 40, height: 20), .init(width: 20, height: 60)])
        XCTAssertGreaterThan(k.meanIoU, 0.9)
        // One anchor: the mean size; k = n: every size its own anchor, mean IoU 1.
        XCTAssertEqual(AnchorKMeans(sizes: sizes, k: 9).meanIoU, 1, accuracy: 1e-12)
        let one = AnchorKMeans(sizes: sizes, k: 1)
        XCTAssertEqual(one.anchors[0].width, sizes.map(\.width).reduce(0, +) / 9, accuracy: 1e-12)
    }
}
