import Foundation

// The YOLO loss over a detection head's raw output (Redmon et al., 2016;
// anchors as in YOLO9000). The head is NCHW [n, A * (5 + C), H, W]: for each
// anchor a, channels a * (5 + C) + 0...4 are t_x, t_y, t_w, t_h, t_o, then C
// class logits. Every (image, anchor, cell) has a target role:
//
//     role 1   responsible for a box: box loss, objectness target 1, class loss
//     role 0   background: objectness target 0 (weight lambdaNoObject)
//     role -1  ignored (overlaps a box well but is not responsible): no loss
//
// Box targets for a responsible slot: (x*, y*) the box centre's offset in
// its cell in [0, 1], compared with sigmoid(t_x), sigmoid(t_y); (w*, h*) =
// log(box side / anchor side), compared with t_w, t_h; squared errors times
// lambdaBox and the slot's `boxWeight`. Objectness: binary cross-entropy of
// sigmoid(t_o). Classes: softmax cross-entropy of the C logits. The total is
// divided by n (a sum over the image's slots, averaged over images).

/// What a YOLO head should predict for a batch: per (image, anchor, cell) a
/// role (1 responsible, 0 background, -1 ignored), box targets (x*, y*, w*, h*)
/// and a class where responsible, and a box-loss weight. Built from boxes by
/// the detection trainer; see `Kernels.yoloLoss` for the meaning of each.
public struct YOLOTargets: Sendable {
    public let batch: Int, anchors: Int, height: Int, width: Int
    public var roles: [Float]
    public var boxes: [Float]
    public var labels: [Int]
    public var boxWeight: [Float]

    /// All background.
    public init(batch: Int, anchors: Int, height: Int, width: Int) {
        (self.batch, self.anchors, self.height, self.width) = (batch, anchors, height, width)
        let slots = batch * anchors * height * width
        roles = [Float](repeating: 0, count: slots)
        boxes = [Float](repeating: 0, count: slots * 4)
        labels = [Int](repeating: 0, count: slots)
        boxWeight = [Float](repeating: 1, count: slots)
    }

    public func slot(image: Int, anchor: Int, y: Int, x: Int) -> Int { ((image * anchors + anchor) * height + y) * width + x }
}

public struct YOLOLossTerms: Sendable, Equatable {
    public var box = 0.0
    public var object = 0.0
    public var noObject = 0.0
    public var classes = 0.0
    public var total: Double { box + object + noObject + classes }
    public init() {}
}

public struct YOLOLossWeights: Sendable, Equatable {
    public var box: Float
    public var object: Float
    public var noObject: Float
    public var classes: Float
    /// The course's weights: lambda_coord 5, lambda_noobj 0.5.
    public init(box: Float = 5, object: Float = 1, noObject: Float = 0.5, classes: Float = 1) {
        (self.box, self.object, self.noObject, self.classes) = (box, object, noObject, classes)
    }
}

extension Kernels {
    /// Loss terms (each already divided by n); with `gx`, also writes
    /// d(total) / d(output) times `scale` (pass upstream / n is done here:
    /// give the upstream gradient) into gx [n, A * (5 + C), H, W].
    /// roles [n, A, H, W]; boxTargets [n, A, H, W, 4]; labels [n, A, H, W]
    /// (read where role == 1); boxWeight [n, A, H, W].
    public static func yoloLoss(
        output: UnsafePointer<Float>, n: Int, anchors: Int, classes: Int, height: Int, width: Int,
        roles: UnsafePointer<Float>, boxTargets: UnsafePointer<Float>, labels: UnsafePointer<Int>,
        boxWeight: UnsafePointer<Float>, weights: YOLOLossWeights,
        gx: UnsafeMutablePointer<Float>?, scale: Float = 1
    ) -> YOLOLossTerms {
        let per = 5 + classes, plane = height * width
        var terms = YOLOLossTerms()
        let gs = scale / Float(max(n, 1))
        if let gx { gx.initialize(repeating: 0, count: n * anchors * per * plane) }
        func sigmoid(_ z: Float) -> Float { z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z)) }
        func softplus(_ z: Float) -> Double { Double(Swift.max(z, 0)) + Foundation.log1p(Foundation.exp(-Double(Swift.abs(z)))) }
        for b in 0..<n {
            for a in 0..<anchors {
                let base = (b * anchors + a) * per * plane
                for cell in 0..<plane {
                    let slot = (b * anchors + a) * plane + cell
                    let role = roles[slot]
                    let to = output[base + 4 * plane + cell]
                    if role == 0 {
                        // -log(1 - sigmoid(z)) = softplus(z).
                        terms.noObject += Double(weights.noObject) * softplus(to)
                        gx?[base + 4 * plane + cell] = gs * weights.noObject * sigmoid(to)
                        continue
                    }
                    guard role > 0 else { continue }
                    // -log sigmoid(z) = softplus(-z).
                    terms.object += Double(weights.object) * softplus(-to)
                    gx?[base + 4 * plane + cell] = gs * weights.object * (sigmoid(to) - 1)
                    let w = weights.box * boxWeight[slot]
                    for k in 0..<4 {
                        let z = output[base + k * plane + cell], target = boxTargets[slot * 4 + k]
                        if k < 2 {
                            let s = sigmoid(z), d = s - target
                            terms.box += Double(w * d * d)
                            gx?[base + k * plane + cell] = gs * w * 2 * d * s * (1 - s)
                        } else {
                            let d = z - target
                            terms.box += Double(w * d * d)
                            gx?[base + k * plane + cell] = gs * w * 2 * d
                        }
                    }
                    let label = labels[slot]
                    precondition(label >= 0 && label < classes, "yoloLoss: label \(label) outside 0..<\(classes)")
                    var m = -Float.infinity
                    for c in 0..<classes { m = Swift.max(m, output[base + (5 + c) * plane + cell]) }
                    var sum: Float = 0
                    for c in 0..<classes { sum += Foundation.exp(output[base + (5 + c) * plane + cell] - m) }
                    let lse = m + Foundation.log(sum)
                    terms.classes += Double(weights.classes * (lse - output[base + (5 + label) * plane + cell]))
                    if let gx {
                        for c in 0..<classes {
                            let p = Foundation.exp(output[base + (5 + c) * plane + cell] - lse)
                            gx[base + (5 + c) * plane + cell] = gs * weights.classes * (p - (c == label ? 1 : 0))
                        }
                    }
                }
            }
        }
        let d = Double(max(n, 1))
        terms.box /= d; terms.object /= d; terms.noObject /= d; terms.classes /= d
        return terms
    }
}
