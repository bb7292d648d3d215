/// Masks: elementwise comparisons that produce 0/1 tensors, selection between
/// two tensors by a mask, and masked fill (PyTorch's `torch.where` and
/// `masked_fill`). A mask is a Float tensor whose nonzero entries mean true.
extension Tensor {
    /// An elementwise comparison.
    public enum Comparison: Sendable {
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual

        @inlinable
        public func holds(_ a: Float, _ b: Float) -> Bool {
            switch self {
            case .equal: return a == b
            case .notEqual: return a != b
            case .less: return a < b
            case .lessOrEqual: return a <= b
            case .greater: return a > b
            case .greaterOrEqual: return a >= b
            }
        }
    }

    /// 1 where `self op other` holds, else 0, broadcasting the two shapes.
    /// No gradient flows through a mask. E.g. `ids.compare(.notEqual, Tensor(scalar: 0))`
    /// is the padding mask of token ids.
    public func compare(_ op: Comparison, _ other: Tensor) -> Tensor {
        guard let outShape = Broadcast.shape(shape, other.shape) else {
            preconditionFailure("compare: shapes \(shape) and \(other.shape) do not broadcast")
        }
        if shape == other.shape {
            return Tensor(shape: shape, data: zip(data, other.data).map { op.holds($0, $1) ? 1 : 0 })
        }
        let ma = Broadcast.indexMap(from: shape, to: outShape), mb = Broadcast.indexMap(from: other.shape, to: outShape)
        return Tensor(shape: outShape, data: (0..<outShape.product).map { op.holds(data[ma[$0]], other.data[mb[$0]]) ? 1 : 0 })
    }

    /// 1 where `self op value` holds, else 0; same shape. No gradient.
    public func compare(_ op: Comparison, _ value: Float) -> Tensor {
        Tensor(shape: shape, data: data.map { op.holds($0, value) ? 1 : 0 })
    }

    /// `a` where the condition is nonzero, else `b` (PyTorch's `torch.where`).
    /// condition, a and b broadcast to one shape, which the output has.
    /// Backward: g flows to a where the condition holds and to b elsewhere,
    /// each summed back to its own shape; the condition gets none.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Broadcast.shape(a.shape, b.shape), let outShape = Broadcast.shape(condition.shape, ab) else {
            preconditionFailure("where: condition \(condition.shape), a \(a.shape), b \(b.shape) do not broadcast")
        }
        let n = outShape.product
        let mc = Broadcast.indexMap(from: condition.shape, to: outShape)
        let ma = Broadcast.indexMap(from: a.shape, to: outShape), mb = Broadcast.indexMap(from: b.shape, to: outShape)
        let pick = (0..<n).map { condition.data[mc[$0]] != 0 }
        let out = (0..<n).map { pick[$0] ? a.data[ma[$0]] : b.data[mb[$0]] }
        return make("where", shape: outShape, data: out, inputs: [a, b]) { g in
            if a.requiresGrad {
                var ga = [Float](repeating: 0, count: a.count)
                for i in 0..<n where pick[i] { ga[ma[i]] += g[i] }
                a.accumulateGrad(ga)
            }
            if b.requiresGrad {
                var gb = [Float](repeating: 0, count: b.count)
                for i in 0..<n where !pick[i] { gb[mb[i]] += g[i] }
                b.accumulateGrad(gb)
            }
        }
    }

    /// `value` where the mask is nonzero, else self (PyTorch's `masked_fill`).
    /// self [...], mask broadcastable to self's shape -> self's shape. Fill with
    /// `-.infinity` before a softmax to mask attention scores.
    /// Backward: g where the mask is 0, 0 where it filled.
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        precondition(Broadcast.shape(mask.shape, shape) == shape,
                     "maskedFill: mask \(mask.shape) does not broadcast to \(shape)")
        let x = self
        let mm = mask.shape == shape ? Array(0..<count) : Broadcast.indexMap(from: mask.shape, to: shape)
        let filled = mm.map { mask.data[$0] != 0 }
        let out = (0..<count).map { filled[$0] ? value : data[$0] }
        return Tensor.make("masked_fill", shape: shape, data: out, inputs: [x]) { g in
            x.accumulateGrad((0..<g.count).map { filled[$0] ? 0 : g[$0] })
        }
    }

    /// The causal (look-ahead) mask [t, s]: 1 where key j may be attended by
    /// query i, that is j <= i + (s - t) (keys beyond the query's position
    /// are 0). With s == t it is the lower triangle, diagonal included.
    public static func causalMask(queries t: Int, keys s: Int) -> Tensor {
        Tensor(shape: [t, s], data: (0..<(t * s)).map { ($0 % s) <= ($0 / s) + (s - t) ? 1 : 0 })
    }
}
