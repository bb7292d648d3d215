import DLKernels

/// Sums, means and maxima over all elements or along one axis.
extension Tensor {
    /// Sum of every element: shape [].
    public func sum() -> Tensor {
        let x = self
        let s = data.withUnsafeBufferPointer { Kernels.sum($0.baseAddress!, count) }
        return Tensor.make("sum", shape: [], data: [s], inputs: [x]) { g in
            x.accumulateGrad([Float](repeating: g[0], count: x.count))
        }
    }

    /// Mean of every element: shape [].
    public func mean() -> Tensor { sum().scaled(by: 1 / Float(Swift.max(count, 1))) }

    /// Splits a shape at `axis` into (outer, dim, inner) sizes.
    @inlinable
    public func axisSplit(_ axis: Int) -> (outer: Int, dim: Int, inner: Int) {
        precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Sum along `axis`; with `keepDims` the axis stays with size 1.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let x = self
        let ax = axis < 0 ? axis + rank : axis
        let (outer, dim, inner) = axisSplit(ax)
        var out = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for d in 0..<dim {
                let base = (o * dim + d) * inner
                for i in 0..<inner { out[o * inner + i] += data[base + i] }
            }
        }
        var newShape = shape
        if keepDims { newShape[ax] = 1 } else { newShape.remove(at: ax) }
        return Tensor.make("sum_axis", shape: newShape, data: out, inputs: [x]) { g in
            var gx = [Float](repeating: 0, count: x.count)
            for o in 0..<outer {
                for d in 0..<dim {
                    let base = (o * dim + d) * inner
                    for i in 0..<inner { gx[base + i] = g[o * inner + i] }
                }
            }
            x.accumulateGrad(gx)
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        return sum(axis: ax, keepDims: keepDims).scaled(by: 1 / Float(Swift.max(shape[ax], 1)))
    }

    /// Largest value along `axis` (PyTorch's `amax(dim)` / `max(dim).values`);
    /// with `keepDims` the axis stays with size 1. [..., D, ...] -> [..., ...].
    /// Backward: each output's gradient goes to its argmax only, the first
    /// index on ties (PyTorch's `max(dim)`; `amax` would split ties evenly).
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let x = self
        let ax = axis < 0 ? axis + rank : axis
        let (outer, dim, inner) = axisSplit(ax)
        precondition(dim > 0, "max: axis \(ax) of \(shape) is empty")
        let arg = argmaxIndices(outer: outer, dim: dim, inner: inner)
        let out = arg.map { data[$0] }
        var newShape = shape
        if keepDims { newShape[ax] = 1 } else { newShape.remove(at: ax) }
        return Tensor.make("max_axis", shape: newShape, data: out, inputs: [x]) { g in
            x.accumulateGrad { gx in for (i, src) in arg.enumerated() { gx[src] += g[i] } }
        }
    }

    /// Index along `axis` of the largest value, first on ties, as floats
    /// (PyTorch's `argmax(dim)`); with `keepDims` the axis stays with size 1.
    /// No gradient.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        let (outer, dim, inner) = axisSplit(ax)
        precondition(dim > 0, "argmax: axis \(ax) of \(shape) is empty")
        let arg = argmaxIndices(outer: outer, dim: dim, inner: inner)
        var newShape = shape
        if keepDims { newShape[ax] = 1 } else { newShape.remove(at: ax) }
        return Tensor(shape: newShape, data: arg.enumerated().map { i, src in Float((src - (i / inner) * dim * inner) / inner) })
    }

    /// Flat source index of the maximum of every (outer, inner) slice; the
    /// first index wins ties, a NaN counts as the largest (as in PyTorch).
    func argmaxIndices(outer: Int, dim: Int, inner: Int) -> [Int] {
        var arg = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = o * dim * inner + i
                for d in 1..<dim {
                    let j = (o * dim + d) * inner + i
                    if data[j] > data[best] || (data[j].isNaN && !data[best].isNaN) { best = j }
                }
                arg[o * inner + i] = best
            }
        }
        return arg
    }

    /// Index of the largest value along the last axis, per row (no gradient).
    public func argmaxLastAxis() -> [Int] {
        let n = shape.last ?? 1
        let rows = n == 0 ? 0 : count / n
        return (0..<rows).map { r in
            var best = 0
            for j in 1..<Swift.max(n, 1) where data[r * n + j] > data[r * n + best] { best = j }
            return best
        }
    }
}
