import DLKernels
import DLTensor

/// Per-channel input normalization x' = (x - mean[c]) / std[c], with the
/// training set's statistics. It is stored in the model's config.json
/// ("preprocessing") so that serving applies exactly what training applied.
public struct Normalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "Normalization: \(mean.count) means, \(std.count) stds")
        self.mean = mean
        self.std = std
    }

    /// Mean and (population) standard deviation per channel of `images` [N, C, H, W].
    public static func fit(_ images: Tensor) -> Normalization {
        precondition(images.rank == 4, "Normalization.fit: expects [N, C, H, W], got \(images.shape)")
        let (n, c, hw) = (images.shape[0], images.shape[1], images.shape[2] * images.shape[3])
        var sum = [Double](repeating: 0, count: c), sq = sum
        images.data.withUnsafeBufferPointer { p in
            for i in 0..<n {
                for ch in 0..<c {
                    let base = p.baseAddress! + (i * c + ch) * hw
                    sum[ch] += Double(Kernels.sum(base, hw))
                    sq[ch] += Double(Kernels.dot(base, base, hw))
                }
            }
        }
        let m = Double(n * hw)
        let mean = sum.map { $0 / m }
        let std = zip(sq, mean).map { Swift.max(($0 / m - $1 * $1).squareRoot(), 1e-6) }
        return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }

    /// Normalizes a batch [N, C, H, W] in place.
    public func apply(_ batch: inout [Float], shape: [Int]) {
        precondition(shape.count == 4 && shape[1] == mean.count,
                     "Normalization.apply: \(mean.count) channels for batch \(shape)")
        let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
        batch.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                for ch in 0..<c {
                    let base = p.baseAddress! + (i * c + ch) * hw
                    let s = 1 / std[ch], o = -mean[ch] / std[ch]
                    let sV = Kernels.V(repeating: s), oV = Kernels.V(repeating: o)
                    Kernels.map(base, base, hw, { oV.addingProduct($0, sV) }, { $0 * s + o })
                }
            }
        }
    }

    /// A normalized copy of `x` [N, C, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var d = x.data
        apply(&d, shape: x.shape)
        return Tensor(shape: x.shape, data: d)
    }
}
