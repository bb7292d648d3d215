/// NumPy broadcasting rules: shapes align on the right; a dimension of 1
/// stretches.
public enum Broadcast {
    /// The broadcast shape of two shapes, or nil when they do not fit.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// For each element of `outShape`, the flat index into a tensor of shape
    /// `src` broadcast to it.
    public static func indexMap(from src: [Int], to outShape: [Int]) -> [Int] {
        let n = outShape.count
        let padded = [Int](repeating: 1, count: n - src.count) + src
        let srcStrides = Tensor.strides(of: padded).enumerated().map { padded[$0.offset] == 1 ? 0 : $0.element }
        return Tensor.stridedIndexMap(shape: outShape, strides: srcStrides)
    }
}

extension Tensor {
    /// Sums a gradient of `shape` down to `target` (the reverse of broadcasting).
    public static func reduceGrad(_ g: [Float], from shape: [Int], to target: [Int]) -> [Float] {
        if shape == target { return g }
        let map = Broadcast.indexMap(from: target, to: shape)
        var out = [Float](repeating: 0, count: target.product)
        for i in 0..<g.count { out[map[i]] += g[i] }
        return out
    }
}
