import DLKernels
import DLTensor
import DLVision
import Foundation
import XCTest

/// Target assignment and decoding of a YOLO head: worked cases, and decode
/// inverting assign.
final class YOLOGridTests: XCTestCase {
    let grid = YOLOGrid(inputWidth: 64, inputHeight: 32, stride: 16,
                        anchors: [.init(width: 10, height: 10), .init(width: 30, height: 20)], classes: 3)

    func testAssignsTheCentreCellAndTheBestAnchor() {
        var t = grid.emptyTargets(batch: 2)
        // Centre (24, 8): cell x 1, y 0; size 28 x 18 fits anchor 1.
        let box = Box(x1: 10, y1: -1, x2: 38, y2: 17)
        grid.assign([Detection(box: box, label: 2)], image: 1, into: &t)
        let s = t.slot(image: 1, anchor: 1, y: 0, x: 1)
        XCTAssertEqual(t.roles[s], 1)
        XCTAssertEqual(t.labels[s], 2)
        XCTAssertEqual(t.boxes[s * 4], 0.5, accuracy: 1e-6)                          // 24 / 16 - 1
        XCTAssertEqual(t.boxes[s * 4 + 1], 0.5, accuracy: 1e-6)                      // 8 / 16 - 0
        XCTAssertEqual(t.boxes[s * 4 + 2], Float(Foundation.log(28.0 / 30)), accuracy: 1e-6)
        XCTAssertEqual(t.boxes[s * 4 + 3], Float(Foundation.log(18.0 / 20)), accuracy: 1e-6)
        XCTAssertEqual(t.boxWeight[s], Float(2 - 28.0 * 18 / (64 * 32)), accuracy: 1e-6)
        XCTAssertEqual(t.roles.filter { $0 != 0 }.count, 1, "anchor 0 (IoU 100/504) is not ignored")
        // A size between the anchors: the other anchor is ignored when its IoU passes the threshold.
        var u = grid.emptyTargets(batch: 1)
        grid.assign([Detection(box: Box(centerX: 40, centerY: 20, width: 14, height: 14), label: 0)], image: 0, into: &u,
                    ignoreIoU: 0.3)
        XCTAssertEqual(u.roles[u.slot(image: 0, anchor: 0, y: 1, x: 2)], 1)     // 100/196 = 0.51 beats 196/600 = 0.33
        XCTAssertEqual(u.roles[u.slot(image: 0, anchor: 1, y: 1, x: 2)], -1)
        // Degenerate or outside boxes are skipped.
        var v = grid.emptyTargets(batch: 1)
        grid.assign([Detection(box: Box(x1: 5, y1: 5, x2: 5, y2: 9), label: 0),
                     Detection(box: Box(x1: 70, y1: 0, x2: 90, y2: 10), label: 0),
                     Detection(box: Box(x1: 0, y1: 0, x2: 9, y2: 9), label: 7)], image: 0, into: &v)
        XCTAssertTrue(v.roles.allSatisfy { $0 == 0 })
    }

    func testDecodeInvertsAssign() {
        let objects = [Detection(box: Box(x1: 3, y1: 4, x2: 15, y2: 13), label: 1),
                       Detection(box: Box(x1: 30, y1: 2, x2: 61, y2: 25), label: 2),
                       Detection(box: Box(x1: 20, y1: 18, x2: 29, y2: 31), label: 0)]
        var t = grid.emptyTargets(batch: 2)
        grid.assign(objects, image: 1, into: &t)
        // A head output that says exactly the targets: logit(x*), w*, objectness +-12, class logit +12.
        let plane = grid.gridWidth * grid.gridHeight, per = 5 + grid.classes
        var out = [Float](repeating: 0, count: 2 * grid.channels * plane)
        for image in 0..<2 {
            for a in 0..<2 {
                for y in 0..<grid.gridHeight {
                    for x in 0..<grid.gridWidth {
                        let s = t.slot(image: image, anchor: a, y: y, x: x), base = (image * 2 + a) * per * plane, cell = y * grid.gridWidth + x
                        out[base + 4 * plane + cell] = t.roles[s] == 1 ? 12 : -12
                        guard t.roles[s] == 1 else { continue }
                        for k in 0..<2 { let p = t.boxes[s * 4 + k]; out[base + k * plane + cell] = Foundation.log(p / (1 - p)) }
                        for k in 2..<4 { out[base + k * plane + cell] = t.boxes[s * 4 + k] }
                        out[base + (5 + t.labels[s]) * plane + cell] = 12
                    }
                }
            }
        }
        let found = out.withUnsafeBufferPointer { grid.decode($0, image: 1, minScore: 0.5) }
        XCTAssertEqual(found.count, 3)
        for o in objects {
            let d = found.first { $0.label == o.label }!
            XCTAssertEqual(d.box.x1, o.box.x1, accuracy: 1e-3); XCTAssertEqual(d.box.y1, o.box.y1, accuracy: 1e-3)
            XCTAssertEqual(d.box.x2, o.box.x2, accuracy: 1e-3); XCTAssertEqual(d.box.y2, o.box.y2, accuracy: 1e-3)
            XCTAssertGreaterThan(d.score, 0.99)
        }
        XCTAssertTrue(out.withUnsafeBufferPointer { grid.decode($0, image: 0, minScore: 0.5) }.isEmpty)
    }
}

final class LetterboxTests: XCTestCase {
    func testFitsPadsAndMapsBack() {
        // 4 x 2 gray image into 8 x 8 without upscaling: placed as is, top-left, padded.
        let image = Image(width: 4, height: 2, channels: 1, pixels: [10, 20, 30, 40, 50, 60, 70, 80])
        let lb = Letterbox(width: 8, height: 8)
        let (chw, sx, sy) = lb.apply(image)
        XCTAssertEqual(chw.count, 3 * 64)
        XCTAssertEqual([sx, sy], [1, 1])
        XCTAssertEqual(Array(chw[0..<8]), [10, 20, 30, 40, 114, 114, 114, 114])
        XCTAssertEqual(chw[64 + 8 + 3], 80, "green plane, row 1")
        XCTAssertEqual(chw[2 * 64 + 63], 114)
        // 16 x 8 into 8 x 8: halved (area averaging), boxes doubled back.
        let wide = Image(width: 16, height: 8, channels: 3, pixels: [UInt8](repeating: 200, count: 16 * 8 * 3))
        let (c2, sx2, sy2) = lb.apply(wide)
        XCTAssertEqual([sx2, sy2], [0.5, 0.5])
        XCTAssertEqual(c2[3 * 8 + 7], 200)
        XCTAssertEqual(c2[4 * 8], 114, "rows 4... are padding")
        XCTAssertEqual(lb.toImage(Box(x1: 1, y1: 1, x2: 7, y2: 5), scaleX: sx2, scaleY: sy2, imageWidth: 16, imageHeight: 8),
                       Box(x1: 2, y1: 2, x2: 14, y2: 8))
    }
}

final class DetectionAugmentationTests: XCTestCase {
    /// A 20 x 10 image, black with one white 4 x 2 block at x 3..<7, y 5..<7, and its box.
    func scene() -> (Image, [Detection]) {
        var px = [UInt8](repeating: 0, count: 20 * 10 * 3)
        for y in 5..<7 { for x in 3..<7 { for c in 0..<3 { px[(y * 20 + x) * 3 + c] = 255 } } }
        return (Image(width: 20, height: 10, channels: 3, pixels: px), [Detection(box: Box(x1: 3, y1: 5, x2: 7, y2: 7), label: 4)])
    }

    /// The box of the white pixels (>= 128 on plane 0) of an input.
    func whiteBox(_ chw: [Float], _ w: Int, _ h: Int) -> Box? {
        var xs: [Int] = [], ys: [Int] = []
        for y in 0..<h { for x in 0..<w where chw[y * w + x] >= 128 { xs.append(x); ys.append(y) } }
        guard let x1 = xs.min() else { return nil }
        return Box(x1: Double(x1), y1: Double(ys.min()!), x2: Double(xs.max()! + 1), y2: Double(ys.max()! + 1))
    }

    func testNoneIsTheLetterbox() {
        let (image, objects) = scene()
        var rng = SeededGenerator(seed: 1)
        let lb = Letterbox(width: 24, height: 24)
        let (chw, moved) = DetectionAugmentation.none.apply(image, objects: objects, letterbox: lb, rng: &rng)
        XCTAssertEqual(chw, lb.apply(image).chw)
        XCTAssertEqual(moved, objects)
    }

    func testBoxesFollowThePixels() {
        let (image, objects) = scene()
        let lb = Letterbox(width: 32, height: 32, allowUpscale: true)
        // Integer scales keep the block's edges sharp: scale range fixed at 1 (fit: 32 / 20 = 1.6 -> 2 x at 1.25).
        let aug = DetectionAugmentation(flip: 0.5, scaleLow: 1.25, scaleHigh: 1.25, translate: true, color: 0, minVisible: 0.4)
        var rng = SeededGenerator(seed: 9)
        var flips = 0
        for _ in 0..<20 {
            let (chw, moved) = aug.apply(image, objects: objects, letterbox: lb, rng: &rng)
            guard let white = whiteBox(chw, 32, 32) else { XCTAssertTrue(moved.isEmpty); continue }
            if let m = moved.first {
                XCTAssertEqual(m.box.x1, white.x1, accuracy: 1e-9); XCTAssertEqual(m.box.x2, white.x2, accuracy: 1e-9)
                XCTAssertEqual(m.box.y1, white.y1, accuracy: 1e-9); XCTAssertEqual(m.box.y2, white.y2, accuracy: 1e-9)
                XCTAssertEqual(m.label, 4)
                if m.box.x1 > 16 { flips += 1 }
            }
        }
        XCTAssertGreaterThan(flips, 0, "some draws mirror the block to the right half")
    }

    func testColourJitterStaysInRange() {
        let (image, objects) = scene()
        var rng = SeededGenerator(seed: 3)
        let (chw, moved) = DetectionAugmentation(flip: 0, scaleLow: 1, scaleHigh: 1, translate: false, color: 1, minVisible: 0)
            .apply(image, objects: objects, letterbox: Letterbox(width: 20, height: 10), rng: &rng)
        XCTAssertTrue(chw.allSatisfy { $0 >= 0 && $0 <= 255 })
        XCTAssertNotEqual(chw, Letterbox(width: 20, height: 10).apply(image).chw)
        XCTAssertEqual(moved, objects)
    }
}
