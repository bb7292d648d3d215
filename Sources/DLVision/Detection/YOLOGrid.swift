import DLKernels
import Foundation

/// The geometry of a YOLO head (Redmon & Farhadi, YOLO9000): an input of
/// `inputWidth` x `inputHeight` pixels seen as a grid of cells `stride` pixels
/// wide, `anchors` (pixel sizes) per cell, `classes` class logits per anchor.
/// `assign` turns boxes into `YOLOTargets` for the loss; `decode` turns a head
/// output back into scored boxes. The two are inverse: a head output equal to
/// the targets' logits decodes to the boxes it was built from.
public struct YOLOGrid: Sendable, Equatable, Codable {
    public var inputWidth: Int
    public var inputHeight: Int
    public var stride: Int
    public var anchors: [AnchorKMeans.Size]
    public var classes: Int
    /// Large images are cut into tiles (nil: every image is letterboxed whole).
    public var tiling: Tiling?

    public init(inputWidth: Int, inputHeight: Int, stride: Int, anchors: [AnchorKMeans.Size], classes: Int, tiling: Tiling? = nil) {
        precondition(stride > 0 && inputWidth % stride == 0 && inputHeight % stride == 0,
                     "YOLOGrid: input \(inputWidth)x\(inputHeight) is not a multiple of the stride \(stride)")
        precondition(!anchors.isEmpty && classes > 0, "YOLOGrid: needs anchors and classes")
        (self.inputWidth, self.inputHeight, self.stride, self.anchors, self.classes) = (inputWidth, inputHeight, stride, anchors, classes)
        self.tiling = tiling
    }

    enum CodingKeys: String, CodingKey { case stride, anchors, classes, tiling, inputWidth = "input_width", inputHeight = "input_height" }

    public var gridWidth: Int { inputWidth / stride }
    public var gridHeight: Int { inputHeight / stride }
    /// Channels of the head output: anchors x (5 + classes).
    public var channels: Int { anchors.count * (5 + classes) }

    public func emptyTargets(batch: Int) -> YOLOTargets {
        YOLOTargets(batch: batch, anchors: anchors.count, height: gridHeight, width: gridWidth)
    }

    /// Marks image `image`'s objects (boxes in input pixels) in `targets`: the
    /// cell holding a box's centre and the anchor of highest IoU with its size
    /// become responsible (as the course teaches); the other anchors of that
    /// cell whose IoU with the size exceeds `ignoreIoU` are ignored rather than
    /// pushed to background. Boxes with no area or a centre outside the input
    /// are skipped. `boxWeight` = 2 - box area / input area (small boxes weigh more, as in YOLOv3).
    public func assign(_ objects: [Detection], image: Int, into targets: inout YOLOTargets, ignoreIoU: Double = 0.5) {
        precondition(targets.anchors == anchors.count && targets.height == gridHeight && targets.width == gridWidth,
                     "YOLOGrid.assign: targets do not fit this grid")
        for o in objects {
            let b = o.box
            guard b.width > 0, b.height > 0, o.label >= 0, o.label < classes else { continue }
            let gx = Int((b.centerX / Double(stride)).rounded(.down)), gy = Int((b.centerY / Double(stride)).rounded(.down))
            guard gx >= 0, gx < gridWidth, gy >= 0, gy < gridHeight else { continue }
            let size = AnchorKMeans.Size(width: b.width, height: b.height)
            let ious = anchors.map { size.iou($0) }
            let best = ious.indices.max { ious[$0] < ious[$1] }!
            for (a, iou) in ious.enumerated() where a != best && iou > ignoreIoU {
                let s = targets.slot(image: image, anchor: a, y: gy, x: gx)
                if targets.roles[s] == 0 { targets.roles[s] = -1 }
            }
            let s = targets.slot(image: image, anchor: best, y: gy, x: gx)
            targets.roles[s] = 1
            targets.labels[s] = o.label
            targets.boxes.replaceSubrange(s * 4 ..< s * 4 + 4, with: [
                Float(b.centerX / Double(stride) - Double(gx)), Float(b.centerY / Double(stride) - Double(gy)),
                Float(Foundation.log(b.width / anchors[best].width)), Float(Foundation.log(b.height / anchors[best].height))])
            targets.boxWeight[s] = Float(2 - b.area / Double(inputWidth * inputHeight))
        }
    }

    /// YOLOv2/v3's ignore rule on the predictions: a background slot of image
    /// `image` whose decoded box (from `output`, the head before this step)
    /// already overlaps one of the image's objects with IoU > `threshold` is
    /// ignored (role -1) instead of being pushed to "no object", so that the
    /// cells next to an object are not punished for seeing it.
    public func ignoreOverlapping(_ output: UnsafeBufferPointer<Float>, image: Int, objects: [Detection],
                                  into targets: inout YOLOTargets, threshold: Double) {
        guard !objects.isEmpty else { return }
        let per = 5 + classes, plane = gridWidth * gridHeight
        func sigmoid(_ z: Float) -> Double { 1 / (1 + Foundation.exp(-Double(z))) }
        let s = Double(stride)
        for a in anchors.indices {
            let base = (image * anchors.count + a) * per * plane
            for y in 0..<gridHeight {
                for x in 0..<gridWidth {
                    let slot = targets.slot(image: image, anchor: a, y: y, x: x)
                    guard targets.roles[slot] == 0 else { continue }
                    let cell = y * gridWidth + x
                    let box = Box(centerX: (Double(x) + sigmoid(output[base + cell])) * s,
                                  centerY: (Double(y) + sigmoid(output[base + plane + cell])) * s,
                                  width: anchors[a].width * Foundation.exp(min(Double(output[base + 2 * plane + cell]), 10)),
                                  height: anchors[a].height * Foundation.exp(min(Double(output[base + 3 * plane + cell]), 10)))
                    if objects.contains(where: { $0.box.iou(box) > threshold }) { targets.roles[slot] = -1 }
                }
            }
        }
    }

    /// Every anchor slot of image `image` of a head output [n, channels, gridH, gridW]
    /// as a detection: box (cx = (x + sigmoid(t_x)) * stride, w = anchor w * e^t_w, ...),
    /// its most likely class, score = sigmoid(t_o) * that class's softmax
    /// probability. Slots scoring below `minScore` are left out.
    public func decode(_ output: UnsafeBufferPointer<Float>, image: Int, minScore: Double = 0) -> [Detection] {
        let per = 5 + classes, plane = gridWidth * gridHeight
        precondition(output.count >= (image + 1) * channels * plane, "YOLOGrid.decode: output too short for image \(image)")
        func sigmoid(_ z: Float) -> Double { 1 / (1 + Foundation.exp(-Double(z))) }
        var result: [Detection] = []
        for a in anchors.indices {
            let base = (image * anchors.count + a) * per * plane
            for y in 0..<gridHeight {
                for x in 0..<gridWidth {
                    let cell = y * gridWidth + x
                    let objectness = sigmoid(output[base + 4 * plane + cell])
                    guard objectness >= minScore else { continue }
                    var best = 0, m = -Float.infinity
                    for c in 0..<classes where output[base + (5 + c) * plane + cell] > m { m = output[base + (5 + c) * plane + cell]; best = c }
                    var sum = 0.0
                    for c in 0..<classes { sum += Foundation.exp(Double(output[base + (5 + c) * plane + cell] - m)) }
                    let score = objectness / sum
                    guard score >= minScore else { continue }
                    let s = Double(stride)
                    let box = Box(centerX: (Double(x) + sigmoid(output[base + cell])) * s,
                                  centerY: (Double(y) + sigmoid(output[base + plane + cell])) * s,
                                  width: anchors[a].width * Foundation.exp(Double(output[base + 2 * plane + cell])),
                                  height: anchors[a].height * Foundation.exp(Double(output[base + 3 * plane + cell])))
                    result.append(Detection(box: box, label: best, score: score))
                }
            }
        }
        return result
    }

    /// How an image becomes this head's input: letterboxed to the input size
    /// (top-left, scaled up or down).
    public var letterbox: Letterbox { Letterbox(width: inputWidth, height: inputHeight, allowUpscale: true) }

    /// Image `image` of a head output as detections in the original image's
    /// pixels: `decode`, `filter` (threshold, per-class NMS, cap, classes),
    /// then the boxes mapped back through the letterbox's scales.
    public func detections(_ output: UnsafeBufferPointer<Float>, image: Int, filter: DetectionFilter,
                           scaleX: Double, scaleY: Double, imageWidth: Int, imageHeight: Int) -> [Detection] {
        filter.apply(decode(output, image: image, minScore: filter.scoreThreshold)).map {
            Detection(box: letterbox.toImage($0.box, scaleX: scaleX, scaleY: scaleY, imageWidth: imageWidth, imageHeight: imageHeight),
                      label: $0.label, score: $0.score)
        }
    }
}
