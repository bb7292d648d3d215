import DLKernels
import DLTensor

// Losses: plain functions returning a scalar tensor (shape []) whose
// backward() reaches the inputs. Each is one fused kernel forward and one
// backward, not a composition of small ops.

/// Categorical cross-entropy fused with softmax: mean over the batch of
/// -log softmax(logits)[label]. logits [N, K], labels [N] in 0..<K -> [].
/// Gradient (softmax - onehot) / N in one pass. Labels outside 0..<K are a
/// programmer error (datasets are validated when loaded).
public func softmaxCrossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                 "softmaxCrossEntropy: logits \(logits.shape) need to be [N, K] with N = \(labels.count) labels")
    let (n, k) = (logits.shape[0], logits.shape[1])
    let recording = Tensor.recording([logits])
    var probs: [Float] = recording ? [Float](repeating: 0, count: n * k) : []
    let loss = logits.data.withUnsafeBufferPointer { px in
        probs.withUnsafeMutableBufferPointer { pp in
            n == 0 ? 0 : Kernels.softmaxCrossEntropyForward(logits: px.baseAddress!, labels: labels, n: n, k: k,
                                                            probs: recording ? pp.baseAddress : nil)
        }
    }
    return Tensor.make("softmax_cross_entropy", shape: [], data: [Float(loss)], inputs: [logits]) { g in
        guard n > 0 else { return }
        var gx = probs
        gx.withUnsafeMutableBufferPointer { pg in
            Kernels.softmaxCrossEntropyBackward(probs: pg.baseAddress!, labels: labels, n: n, k: k,
                                                scale: g[0] / Float(n), gx: pg.baseAddress!)
        }
        logits.accumulateGrad(gx)
    }
}

/// `softmaxCrossEntropy` with the labels as a tensor [N] of class indices.
public func softmaxCrossEntropy(logits: Tensor, labels: Tensor) -> Tensor {
    precondition(labels.data.allSatisfy { $0 == $0.rounded() && $0 >= 0 },
                 "softmaxCrossEntropy: labels must be non-negative integers")
    return softmaxCrossEntropy(logits: logits, labels: labels.data.map { Int($0) })
}

/// Binary cross-entropy on probabilities: mean of -(t log p + (1 - t) log(1 - p)).
/// probabilities and targets of one shape, any -> []. Each log is clamped at
/// -100 (PyTorch's BCELoss), so p = 0 or 1 gives a finite loss; the gradient
/// (p - t) / max(p (1 - p), 1e-12) / count flows to the probabilities only.
/// Prefer `binaryCrossEntropy(logits:targets:)` after a sigmoid: it is stable.
public func binaryCrossEntropy(probabilities p: Tensor, targets t: Tensor) -> Tensor {
    precondition(p.shape == t.shape, "binaryCrossEntropy: probabilities \(p.shape) vs targets \(t.shape)")
    let n = p.count
    let loss = n == 0 ? 0 : Kernels.binaryCrossEntropyForward(probs: p.data, targets: t.data, n: n)
    return Tensor.make("binary_cross_entropy", shape: [], data: [Float(loss)], inputs: [p]) { g in
        guard n > 0 else { return }
        p.accumulateGrad(Tensor.filled(n) {
            Kernels.binaryCrossEntropyBackward(probs: p.data, targets: t.data, n: n, scale: g[0] / Float(n), gx: $0)
        })
    }
}

/// Binary cross-entropy of sigmoid(logits), stable form (PyTorch's
/// BCEWithLogitsLoss): mean of max(z, 0) - z t + log(1 + e^-|z|).
/// logits and targets of one shape, any -> []. Gradient (sigmoid(z) - t) / count.
public func binaryCrossEntropy(logits z: Tensor, targets t: Tensor) -> Tensor {
    precondition(z.shape == t.shape, "binaryCrossEntropy: logits \(z.shape) vs targets \(t.shape)")
    let n = z.count
    let loss = n == 0 ? 0 : Kernels.binaryCrossEntropyWithLogitsForward(logits: z.data, targets: t.data, n: n)
    return Tensor.make("binary_cross_entropy_logits", shape: [], data: [Float(loss)], inputs: [z]) { g in
        guard n > 0 else { return }
        z.accumulateGrad(Tensor.filled(n) {
            Kernels.binaryCrossEntropyWithLogitsBackward(logits: z.data, targets: t.data, n: n,
                                                         scale: g[0] / Float(n), gx: $0)
        })
    }
}

/// Mean squared error, mean((a - b)^2) over every element. a and b of one
/// shape, any -> []. Gradient 2 (a - b) / count to a and its negative to b.
public func meanSquaredError(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "meanSquaredError: shapes \(a.shape) and \(b.shape) differ")
    let n = a.count
    let loss = n == 0 ? 0 : Kernels.meanSquaredErrorForward(a.data, b.data, n)
    return Tensor.make("mse", shape: [], data: [Float(loss)], inputs: [a, b]) { g in
        guard n > 0 else { return }
        let s = 2 * g[0] / Float(n)
        if a.requiresGrad { a.accumulateGrad(Tensor.filled(n) { Kernels.scaledDifference(a.data, b.data, scale: s, $0, n) }) }
        if b.requiresGrad { b.accumulateGrad(Tensor.filled(n) { Kernels.scaledDifference(b.data, a.data, scale: s, $0, n) }) }
    }
}

/// Triplet loss (Schroff et al., 2015, FaceNet) with squared Euclidean
/// distances: mean over the batch of max(|a - p|^2 - |a - n|^2 + alpha, 0).
/// anchor, positive, negative [N, D] -> []. The course notes sum over the
/// batch; the mean keeps the learning rate independent of N.
/// (PyTorch's TripletMarginLoss uses unsquared distances; this is FaceNet's.)
public func tripletLoss(anchor a: Tensor, positive p: Tensor, negative ng: Tensor, alpha: Float = 0.2) -> Tensor {
    precondition(a.rank == 2 && a.shape == p.shape && a.shape == ng.shape,
                 "tripletLoss: anchor \(a.shape), positive \(p.shape), negative \(ng.shape) must all be [N, D]")
    let (rows, d) = (a.shape[0], a.shape[1])
    var margins = [Float](repeating: 0, count: rows)
    let loss = rows == 0 ? 0 : Kernels.tripletForward(anchor: a.data, positive: p.data, negative: ng.data,
                                                      rows: rows, d: d, alpha: alpha, margins: &margins)
    return Tensor.make("triplet_loss", shape: [], data: [Float(loss)], inputs: [a, p, ng]) { g in
        guard rows > 0 else { return }
        let s = g[0] / Float(rows)
        for (which, t) in [a, p, ng].enumerated() where t.requiresGrad {
            t.accumulateGrad(Tensor.filled(t.count) { out in
                Kernels.tripletBackward(anchor: a.data, positive: p.data, negative: ng.data, rows: rows, d: d,
                                        margins: margins, scale: s,
                                        ga: which == 0 ? out : nil, gp: which == 1 ? out : nil, gn: which == 2 ? out : nil)
            })
        }
    }
}
