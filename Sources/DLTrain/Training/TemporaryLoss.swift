import DLTensor

// TEMPORARY until branch `dense` (DLNN.softmaxCrossEntropy, fused) is merged:
// mean softmax cross-entropy from DLTensor ops. Delete on merge.
func softmaxCrossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    let n = logits.shape[0], k = logits.shape[1]
    let maxes = Tensor(shape: [n, 1], data: (0..<n).map { i in logits.data[(i * k)..<(i * k + k)].max()! })
    let shifted = logits - maxes
    let lse = shifted.exp().sum(axis: 1, keepDims: true).log()
    var onehot = [Float](repeating: 0, count: n * k)
    for (i, y) in labels.enumerated() { onehot[i * k + y] = 1 }
    return ((lse - shifted) * Tensor(shape: [n, k], data: onehot)).sum().scaled(by: 1 / Float(n))
}
