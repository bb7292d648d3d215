import DLKernels
import DLTensor

/// A padded teacher-forcing batch of N pairs:
///
///     src     [N, S]    source ids, padded with 0 (`<pad>`) on the right
///     tgtIn   [N, T-1]  decoder input: target without its last id (`<bos>` ...)
///     tgtOut  [N, T-1]  what to predict: target without its first id (... `<eos>`)
///
/// S and T are the longest source and target in the batch. Padding in
/// `tgtOut` is 0, the loss's ignore index.
public struct TranslationBatch {
    public static let padding = 0

    public var src: Tensor
    public var tgtIn: Tensor
    public var tgtOut: Tensor
    /// Real (non-padding) source ids.
    public var sourceTokens: Int
    /// Real ids in `tgtOut`: the tokens the loss counts.
    public var targetTokens: Int

    public init(_ pairs: [EncodedPair]) {
        precondition(!pairs.isEmpty, "TranslationBatch: no pairs")
        precondition(pairs.allSatisfy { $0.target.count >= 2 && !$0.source.isEmpty },
                     "TranslationBatch: a target needs <bos> and <eos>, a source at least one id")
        let n = pairs.count, s = pairs.map(\.source.count).max()!, t = pairs.map(\.target.count).max()! - 1
        var src = [Float](repeating: 0, count: n * s), tin = [Float](repeating: 0, count: n * t), tout = tin
        for (i, p) in pairs.enumerated() {
            for (j, id) in p.source.enumerated() { src[i * s + j] = Float(id) }
            for j in 0..<(p.target.count - 1) {
                tin[i * t + j] = Float(p.target[j])
                tout[i * t + j] = Float(p.target[j + 1])
            }
        }
        self.src = Tensor(shape: [n, s], data: src)
        self.tgtIn = Tensor(shape: [n, t], data: tin)
        self.tgtOut = Tensor(shape: [n, t], data: tout)
        sourceTokens = pairs.reduce(0) { $0 + $1.source.count }
        targetTokens = pairs.reduce(0) { $0 + $1.target.count - 1 }
    }

    /// The model's inputs by name.
    public var inputs: [String: Tensor] { ["src": src, "tgt": tgtIn] }
}

/// Batches by length: pairs sorted by (target length, source length, index)
/// and cut into runs whose padded size N * (S + T) stays within a token
/// budget, so a batch wastes little on padding. The batches are fixed for a
/// run; each epoch visits them in an order drawn from (seed, epoch).
public enum TranslationBatching {
    /// Index lists into `pairs`, each one batch. A pair longer than the budget alone is a batch of its own.
    public static func batches(_ pairs: [EncodedPair], batchTokens: Int) -> [[Int]] {
        let order = pairs.indices.sorted { a, b in
            let x = pairs[a], y = pairs[b]
            if x.target.count != y.target.count { return x.target.count < y.target.count }
            if x.source.count != y.source.count { return x.source.count < y.source.count }
            return a < b
        }
        var result: [[Int]] = [], current: [Int] = []
        var s = 0, t = 0
        for i in order {
            let ns = max(s, pairs[i].source.count), nt = max(t, pairs[i].target.count)
            if !current.isEmpty && (current.count + 1) * (ns + nt) > batchTokens {
                result.append(current)
                current = [i]
                s = pairs[i].source.count
                t = pairs[i].target.count
            } else {
                current.append(i)
                s = ns
                t = nt
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The batches in epoch `epoch`'s order (a Fisher-Yates shuffle seeded by seed and epoch).
    public static func epochOrder(_ batches: [[Int]], seed: UInt64, epoch: Int) -> [[Int]] {
        var rng = SeedStream.generator(seed, .shuffle, epoch: epoch)
        var b = batches
        if b.count > 1 {
            for i in stride(from: b.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                b.swapAt(i, j)
            }
        }
        return b
    }
}
