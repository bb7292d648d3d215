import DLKernels
import DLTensor

/// The YOLO loss (`Kernels.yoloLoss`) of a head output [N, A * (5 + C), H, W]
/// -> [] (the total, averaged over images); the terms come back for logging.
public func yoloLoss(_ output: Tensor, targets t: YOLOTargets, classes: Int,
                     weights: YOLOLossWeights = .init()) -> (loss: Tensor, terms: YOLOLossTerms) {
    precondition(output.shape == [t.batch, t.anchors * (5 + classes), t.height, t.width],
                 "yoloLoss: output \(output.shape) is not [\(t.batch), \(t.anchors) x (5 + \(classes)), \(t.height), \(t.width)]")
    func run(_ gx: UnsafeMutablePointer<Float>?, scale: Float) -> YOLOLossTerms {
        output.data.withUnsafeBufferPointer { o in
            t.roles.withUnsafeBufferPointer { r in
                t.boxes.withUnsafeBufferPointer { bx in
                    t.labels.withUnsafeBufferPointer { l in
                        t.boxWeight.withUnsafeBufferPointer { w in
                            Kernels.yoloLoss(output: o.baseAddress!, n: t.batch, anchors: t.anchors, classes: classes,
                                             height: t.height, width: t.width, roles: r.baseAddress!, boxTargets: bx.baseAddress!,
                                             labels: l.baseAddress!, boxWeight: w.baseAddress!, weights: weights,
                                             gx: gx, scale: scale)
                        }
                    }
                }
            }
        }
    }
    let terms = run(nil, scale: 1)
    let loss = Tensor.make("yolo_loss", shape: [], data: [Float(terms.total)], inputs: [output]) { g in
        output.accumulateGrad(Tensor.filled(output.count) { _ = run($0, scale: g[0]) })
    }
    return (loss, terms)
}
