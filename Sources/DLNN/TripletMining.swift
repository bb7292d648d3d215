import DLKernels
import DLTensor

/// How the triplets of a batch of P identities x K images are chosen from
/// the batch itself (online mining), all with squared Euclidean distances:
/// - `batchHard` (Hermans et al., 2017): per anchor, its farthest positive
///   and its nearest negative;
/// - `semiHard` (Schroff et al., 2015, FaceNet): per positive pair (a, p),
///   the nearest negative farther than p (|a - n|^2 > |a - p|^2), or the
///   farthest negative when none is.
public enum TripletMining: String, Codable, Sendable, CaseIterable {
    case batchHard = "batch_hard"
    case semiHard = "semi_hard"
}

/// Triplets as row indices into a batch of embeddings.
public struct MinedTriplets: Equatable, Sendable {
    public var anchors: [Int] = []
    public var positives: [Int] = []
    public var negatives: [Int] = []
    public var count: Int { anchors.count }

    mutating func append(_ a: Int, _ p: Int, _ n: Int) { anchors.append(a); positives.append(p); negatives.append(n) }

    /// Chooses the triplets of `embeddings` [N, D] with `labels` (identity
    /// per row). Anchors with no positive or no negative in the batch give none.
    public static func mine(_ embeddings: Tensor, labels: [Int], mining: TripletMining) -> MinedTriplets {
        precondition(embeddings.rank == 2 && embeddings.shape[0] == labels.count,
                     "mine: embeddings \(embeddings.shape) need one label per row (\(labels.count) labels)")
        let (n, d) = (embeddings.shape[0], embeddings.shape[1])
        var dist = [Float](repeating: 0, count: n * n)
        embeddings.data.withUnsafeBufferPointer { e in
            for i in 0..<n { for j in (i + 1)..<n {
                let v = Kernels.squaredDistance(e.baseAddress! + i * d, e.baseAddress! + j * d, d)
                (dist[i * n + j], dist[j * n + i]) = (v, v)
            } }
        }
        var t = MinedTriplets()
        for a in 0..<n {
            let row = a * n
            let negatives = (0..<n).filter { labels[$0] != labels[a] }
            guard !negatives.isEmpty else { continue }
            let positives = (0..<n).filter { $0 != a && labels[$0] == labels[a] }
            switch mining {
            case .batchHard:
                guard let p = positives.max(by: { dist[row + $0] < dist[row + $1] }) else { continue }
                t.append(a, p, negatives.min(by: { dist[row + $0] < dist[row + $1] })!)
            case .semiHard:
                for p in positives {
                    let dap = dist[row + p]
                    let farther = negatives.filter { dist[row + $0] > dap }
                    let chosen = farther.min(by: { dist[row + $0] < dist[row + $1] })
                        ?? negatives.max(by: { dist[row + $0] < dist[row + $1] })!
                    t.append(a, p, chosen)
                }
            }
        }
        return t
    }
}

/// Triplet loss over the triplets mined from the batch itself: the mean over
/// mined triplets of max(|a - p|^2 - |a - n|^2 + alpha, 0) (`tripletLoss`
/// on rows gathered from `embeddings` [N, D]; the gradient scatters back to
/// the rows that were chosen, the choice itself being constant). Returns the
/// loss and the triplets; a batch with none gives 0.
public func minedTripletLoss(embeddings e: Tensor, labels: [Int], alpha: Float = 0.2,
                             mining: TripletMining = .batchHard) -> (loss: Tensor, triplets: MinedTriplets) {
    let t = MinedTriplets.mine(e, labels: labels, mining: mining)
    guard t.count > 0 else {
        return (Tensor.make("mined_triplet_loss", shape: [], data: [0], inputs: [e]) { _ in }, t)
    }
    func rows(_ ids: [Int]) -> Tensor { Tensor.embedding(Tensor(shape: [ids.count], data: ids.map(Float.init)), weight: e) }
    return (tripletLoss(anchor: rows(t.anchors), positive: rows(t.positives), negative: rows(t.negatives), alpha: alpha), t)
}

extension MinedTriplets {
    /// How many of the triplets have a positive margin |a - p|^2 - |a - n|^2 + alpha in `embeddings` [N, D].
    public func active(in embeddings: Tensor, alpha: Float) -> Int {
        let d = embeddings.shape[1]
        return embeddings.data.withUnsafeBufferPointer { e in
            (0..<count).filter { k in
                let a = e.baseAddress! + anchors[k] * d
                return Kernels.squaredDistance(a, e.baseAddress! + positives[k] * d, d)
                    - Kernels.squaredDistance(a, e.baseAddress! + negatives[k] * d, d) + alpha > 0
            }.count
        }
    }
}

/// The course's siamese alternative to the triplet loss: a logistic
/// regression on the element-wise distance of two embeddings, logit =
/// sum_k w_k |a_k - b_k| + bias, trained with binary cross-entropy against
/// `same` (1 when both show one person). a, b [N, D], weight [D], bias [] ->
/// the mean loss [] (gradients reach a, b, weight and bias).
public func pairClassifierLogits(_ a: Tensor, _ b: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
    precondition(a.rank == 2 && a.shape == b.shape && weight.shape == [a.shape[1]] && bias.count == 1,
                 "pairClassifierLogits: a \(a.shape), b \(b.shape), weight \(weight.shape), bias \(bias.shape)")
    let z = (a - b).abs().matmul(weight.reshaped([a.shape[1], 1])).reshaped([a.shape[0]])
    return z + bias.reshaped([1])
}

/// Mean binary cross-entropy of `pairClassifierLogits` against `same` (0 or 1 per pair).
public func pairClassifierLoss(_ a: Tensor, _ b: Tensor, weight: Tensor, bias: Tensor, same: [Float]) -> Tensor {
    binaryCrossEntropy(logits: pairClassifierLogits(a, b, weight: weight, bias: bias),
                       targets: Tensor(shape: [same.count], data: same))
}

/// PyTorch's `TripletMarginLoss(margin, p=2, eps)`: unsquared distances
/// |a - p + eps|_2, mean over the batch of max(d(a, p) - d(a, n) + margin, 0).
/// anchor, positive, negative [N, D] -> []. (`tripletLoss` is FaceNet's, squared.)
public func tripletMarginLoss(anchor a: Tensor, positive p: Tensor, negative n: Tensor, margin: Float = 1, eps: Float = 1e-6) -> Tensor {
    precondition(a.rank == 2 && a.shape == p.shape && a.shape == n.shape,
                 "tripletMarginLoss: anchor \(a.shape), positive \(p.shape), negative \(n.shape) must all be [N, D]")
    func distance(_ x: Tensor, _ y: Tensor) -> Tensor { (x - y + eps).squared().sum(axis: 1).sqrt() }
    return (distance(a, p) - distance(a, n) + margin).relu().mean()
}
