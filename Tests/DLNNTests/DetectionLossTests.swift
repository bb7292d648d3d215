import DLKernels
import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The YOLO loss: values worked by hand, every term's gradient by finite
/// differences, ignored slots contributing nothing.
final class DetectionLossTests: XCTestCase {
    /// One image, one anchor, a 1 x 1 grid, two classes, all-zero output.
    func testValuesByHand() {
        let zeros = Tensor(zeros: [1, 7, 1, 1])
        var t = YOLOTargets(batch: 1, anchors: 1, height: 1, width: 1)
        t.roles[0] = 1
        t.boxes = [0.5, 0.5, 0, 0]  // sigmoid(0) = 0.5 and log(1) = 0: no box error
        var (loss, terms) = yoloLoss(zeros, targets: t, classes: 2)
        let ln2 = Foundation.log(2.0)
        XCTAssertEqual(terms.box, 0, accuracy: 1e-7)
        XCTAssertEqual(terms.object, ln2, accuracy: 1e-6)     // -log sigmoid(0)
        XCTAssertEqual(terms.classes, ln2, accuracy: 1e-6)    // uniform over two classes
        XCTAssertEqual(Double(loss.scalar), 2 * ln2, accuracy: 1e-6)
        // Box error: target x* = 1 against sigmoid(0) = 0.5, w* = 1 against 0: 5 * (0.25 + 1).
        t.boxes = [1, 0.5, 1, 0]
        terms = yoloLoss(zeros, targets: t, classes: 2).terms
        XCTAssertEqual(terms.box, 5 * 1.25, accuracy: 1e-6)
        // Background: 0.5 * -log(1 - sigmoid(0)).
        t.roles[0] = 0
        (loss, terms) = yoloLoss(zeros, targets: t, classes: 2)
        XCTAssertEqual(Double(loss.scalar), 0.5 * ln2, accuracy: 1e-6)
        XCTAssertEqual(terms.box + terms.object + terms.classes, 0)
        // Ignored: nothing.
        t.roles[0] = -1
        XCTAssertEqual(yoloLoss(zeros, targets: t, classes: 2).loss.scalar, 0)
    }

    func targets() -> YOLOTargets {
        var t = YOLOTargets(batch: 2, anchors: 2, height: 2, width: 3)
        for (i, (image, anchor, y, x, label)) in [(0, 0, 0, 1, 2), (0, 1, 1, 2, 0), (1, 1, 0, 0, 1)].enumerated() {
            let s = t.slot(image: image, anchor: anchor, y: y, x: x)
            t.roles[s] = 1
            t.labels[s] = label
            t.boxes[s * 4 ..< s * 4 + 4] = [0.2 + 0.3 * Float(i), 0.7 - 0.2 * Float(i), 0.4 - 0.5 * Float(i), -0.3 + 0.2 * Float(i)]
            t.boxWeight[s] = 1 + 0.5 * Float(i)
        }
        t.roles[t.slot(image: 1, anchor: 0, y: 1, x: 1)] = -1
        return t
    }

    func testGradientsOfEveryTerm() {
        var rng = SeededGenerator(seed: 71)
        let out = Tensor.normal([2, 2 * 8, 2, 3], std: 1.5, rng: &rng)
        let t = targets()
        let r = GradientCheck.check(out, epsilon: 1e-2, maxElements: out.count) {
            yoloLoss(out, targets: t, classes: 3, weights: .init(box: 5, object: 1.5, noObject: 0.5, classes: 2)).loss
        }
        XCTAssertLessThan(r.relativeError, 1e-3, "\(r)")
    }

    func testIgnoredSlotsGetNoGradientAndTheBatchAverages() {
        var rng = SeededGenerator(seed: 72)
        let out = Tensor.normal([2, 16, 2, 3], std: 1, rng: &rng)
        out.requiresGrad = true
        let t = targets()
        let (loss, terms) = yoloLoss(out, targets: t, classes: 3)
        loss.backward()
        let g = out.grad!
        // Slot (image 1, anchor 0, y 1, x 1): every channel of that anchor at that cell.
        for k in 0..<8 { XCTAssertEqual(g[((1 * 16 + k) * 2 + 1) * 3 + 1], 0, "channel \(k)") }
        // Background slots: only objectness has a gradient.
        let bg = ((0 * 16 + 0) * 2 + 1) * 3 + 0  // image 0, anchor 0, y 1, x 0
        XCTAssertNotEqual(g[bg + 4 * 6], 0)
        for k in [0, 1, 2, 3, 5, 6, 7] { XCTAssertEqual(g[bg + k * 6], 0, "channel \(k)") }
        XCTAssertEqual(Double(loss.scalar), terms.total, accuracy: 1e-5)
        // Two copies of the batch average to the same loss.
        var t2 = YOLOTargets(batch: 4, anchors: 2, height: 2, width: 3)
        t2.roles = t.roles + t.roles; t2.boxes = t.boxes + t.boxes; t2.labels = t.labels + t.labels; t2.boxWeight = t.boxWeight + t.boxWeight
        let doubled = Tensor(shape: [4, 16, 2, 3], data: out.data + out.data)
        XCTAssertEqual(yoloLoss(doubled, targets: t2, classes: 3).loss.scalar, loss.scalar, accuracy: 1e-5)
    }
}
