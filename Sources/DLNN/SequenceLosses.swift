import DLKernels
import DLTensor

/// Cross-entropy per token for sequence models, PyTorch's
/// `F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
/// ignore_index=ignoreIndex, label_smoothing=labelSmoothing)` with
/// reduction 'mean': the mean over the tokens that count of
/// -sum_j q_j log softmax(logits)_j, q = (1 - eps) onehot(target) + eps / V.
///
/// logits [B, T, V] (any [..., V]), targets [B, T] (the leading shape of the
/// logits; token ids stored as floats) -> []. A token counts when its target
/// is not `ignoreIndex` (pass 0 when 0 is the padding id; nil ignores none)
/// and, when `mask` [B, T] is given, its mask value is nonzero. Targets of
/// tokens that do not count may hold anything. A batch with no counted token
/// gives 0 and no gradient (PyTorch gives NaN).
/// Gradient (softmax - q) / count for counted tokens, 0 elsewhere, one fused kernel.
public func sequenceCrossEntropy(
    logits: Tensor, targets: Tensor, ignoreIndex: Int? = -100, mask: Tensor? = nil, labelSmoothing: Float = 0
) -> Tensor {
    precondition(logits.rank >= 2 && Array(logits.shape.dropLast()) == targets.shape,
                 "sequenceCrossEntropy: logits \(logits.shape) need to be [..., V] over targets \(targets.shape)")
    precondition(mask == nil || mask!.shape == targets.shape,
                 "sequenceCrossEntropy: mask \(mask!.shape) differs from targets \(targets.shape)")
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "sequenceCrossEntropy: label smoothing \(labelSmoothing) outside [0, 1]")
    let k = logits.shape[logits.rank - 1], n = targets.count
    // -1 marks a token that does not count.
    let labels: [Int] = (0..<n).map { i in
        let t = targets.data[i]
        if let mask, mask.data[i] == 0 { return -1 }
        if let ignoreIndex, t == Float(ignoreIndex) { return -1 }
        precondition(t >= 0 && t < Float(k) && t == t.rounded(),
                     "sequenceCrossEntropy: target \(t) of token \(i) is not a class in 0..<\(k)")
        return Int(t)
    }
    let recording = Tensor.recording([logits])
    var probs: [Float] = recording ? [Float](repeating: 0, count: n * k) : []
    let (sum, count) = logits.data.withUnsafeBufferPointer { px in
        probs.withUnsafeMutableBufferPointer { pp in
            n == 0 ? (0, 0) : Kernels.tokenCrossEntropyForward(logits: px.baseAddress!, labels: labels, n: n, k: k,
                                                               smoothing: labelSmoothing, probs: recording ? pp.baseAddress : nil)
        }
    }
    let loss = count == 0 ? 0 : Float(sum / Double(count))
    return Tensor.make("sequence_cross_entropy", shape: [], data: [loss], inputs: [logits]) { g in
        guard count > 0 else { return }
        var gx = probs
        gx.withUnsafeMutableBufferPointer { pg in
            Kernels.tokenCrossEntropyBackward(probs: pg.baseAddress!, labels: labels, n: n, k: k, smoothing: labelSmoothing,
                                              scale: g[0] / Float(count), gx: pg.baseAddress!)
        }
        logits.accumulateGrad(gx)
    }
}
