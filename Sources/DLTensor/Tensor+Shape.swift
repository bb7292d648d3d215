/// Reshape, permute, concatenate, split and batch slicing, all differentiable.
extension Tensor {
    /// Same values, new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).product
            precondition(known > 0 && count % known == 0, "reshape: \(shape) cannot become \(newShape)")
            s[i] = count / known
        }
        precondition(s.product == count, "reshape: \(shape) (\(count) values) cannot become \(newShape)")
        let x = self
        return Tensor.make("reshape", shape: s, data: data, inputs: [x]) { g in x.accumulateGrad(g) }
    }

    /// Flattens all but the first dimension: [N, ...] -> [N, rest].
    public func flattenedBatch() -> Tensor { reshaped([shape.first ?? 1, -1]) }

    /// Permutes dimensions: out.shape[i] = shape[perm[i]].
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.sorted() == Array(0..<rank), "permute: \(perm) is not a permutation of rank \(rank)")
        let x = self
        let outShape = perm.map { shape[$0] }
        let inStrides = Tensor.strides(of: shape)
        let srcStrides = perm.map { inStrides[$0] }
        let map = Tensor.stridedIndexMap(shape: outShape, strides: srcStrides)
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = data[map[i]] }
        return Tensor.make("permute", shape: outShape, data: out, inputs: [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for i in 0..<g.count { gx[map[i]] = g[i] }
            x.accumulateGrad(gx)
        }
    }

    /// Swaps the last two dimensions.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: rank \(rank) < 2")
        var p = Array(0..<rank)
        p.swapAt(rank - 1, rank - 2)
        return permuted(p)
    }

    static func stridedIndexMap(shape: [Int], strides: [Int]) -> [Int] {
        let total = shape.product
        var map = [Int](repeating: 0, count: total)
        if total == 0 { return map }
        var idx = [Int](repeating: 0, count: shape.count)
        var off = 0
        for i in 0..<total {
            map[i] = off
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if idx[d] < shape[d] { break }
                off -= strides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
        }
        return map
    }

    /// Concatenates along `axis`; other dimensions must match.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let r = parts[0].rank
        let ax = axis < 0 ? axis + r : axis
        for p in parts {
            precondition(p.rank == r && (0..<r).allSatisfy { $0 == ax || p.shape[$0] == parts[0].shape[$0] },
                         "concat: shapes \(parts.map(\.shape)) do not fit along axis \(ax)")
        }
        let outer = parts[0].shape[..<ax].product
        let inner = parts[0].shape[(ax + 1)...].product
        let dims = parts.map { $0.shape[ax] }
        let total = dims.reduce(0, +)
        var outShape = parts[0].shape
        outShape[ax] = total
        var out = [Float](repeating: 0, count: outShape.product)
        var offset = 0
        for (p, d) in zip(parts, dims) {
            for o in 0..<outer {
                let src = o * d * inner, dst = (o * total + offset) * inner
                for i in 0..<(d * inner) { out[dst + i] = p.data[src + i] }
            }
            offset += d
        }
        return make("concat", shape: outShape, data: out, inputs: parts) { g in
            var offset = 0
            for (p, d) in zip(parts, dims) {
                if p.requiresGrad {
                    var gp = [Float](repeating: 0, count: p.count)
                    for o in 0..<outer {
                        let dst = o * d * inner, src = (o * total + offset) * inner
                        for i in 0..<(d * inner) { gp[dst + i] = g[src + i] }
                    }
                    p.accumulateGrad(gp)
                }
                offset += d
            }
        }
    }

    /// Splits along `axis` into parts of the given sizes.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = axis < 0 ? axis + rank : axis
        precondition(sizes.reduce(0, +) == shape[ax], "split: sizes \(sizes) do not add up to \(shape[ax])")
        var start = 0
        return sizes.map { s in
            defer { start += s }
            return slice(axis: ax, start: start, length: s)
        }
    }

    /// The sub-tensor [start, start+length) along `axis`.
    public func slice(axis: Int, start: Int, length: Int) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(start >= 0 && length >= 0 && start + length <= shape[ax],
                     "slice: [\(start), \(start + length)) out of range for dim \(ax) of \(shape)")
        let x = self
        let (outer, dim, inner) = axisSplit(ax)
        var outShape = shape
        outShape[ax] = length
        var out = [Float](repeating: 0, count: outShape.product)
        for o in 0..<outer {
            let src = (o * dim + start) * inner, dst = o * length * inner
            for i in 0..<(length * inner) { out[dst + i] = data[src + i] }
        }
        return Tensor.make("slice", shape: outShape, data: out, inputs: [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for o in 0..<outer {
                let dst = (o * dim + start) * inner, src = o * length * inner
                for i in 0..<(length * inner) { gx[dst + i] = g[src + i] }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Rows [start, start+length) of the batch (first) dimension.
    public func batchSlice(_ start: Int, _ length: Int) -> Tensor { slice(axis: 0, start: start, length: length) }

    /// Gathers batch rows by index (no gradient; used for mini-batches of data).
    public func gatherBatch(_ indices: [Int]) -> Tensor {
        let row = shape.dropFirst().product
        var out = [Float](repeating: 0, count: indices.count * row)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    (dst.baseAddress! + k * row).update(from: src.baseAddress! + i * row, count: row)
                }
            }
        }
        return Tensor(shape: [indices.count] + shape.dropFirst(), data: out)
    }
}
