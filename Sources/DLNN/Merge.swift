import DLKernels
import DLTensor

/// Residual addition (He et al., 2016): the elementwise sum of two or more
/// inputs of one shape. An identity shortcut adds the block's input; a
/// projection shortcut adds the output of a 1x1 convolution node.
///
/// model.json: `{"type": "add", "inputs": ["bn2", "input"]}`.
public final class Add: Layer {
    public init() {}

    /// k >= 2 shapes, all equal -> that shape.
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw ModelError.shape("add takes 2 or more inputs, got \(inputShapes.count)")
        }
        guard inputShapes.allSatisfy({ $0 == inputShapes[0] }) else {
            throw ModelError.shape("add needs inputs of one shape, got \(inputShapes.map { "\($0)" }.joined(separator: ", "))")
        }
        return inputShapes[0]
    }

    /// k inputs [N, ...], same shape -> their sum [N, ...]. Backward: every
    /// input receives the output gradient unchanged.
    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(inputs.count >= 2, "Add: expects 2 or more inputs, got \(inputs.count)")
        let shape = inputs[0].shape
        precondition(inputs.allSatisfy { $0.shape == shape }, "Add: shapes differ: \(inputs.map(\.shape))")
        let n = inputs[0].count
        let y = Tensor.filled(n) { py in
            inputs[0].data.withUnsafeBufferPointer { a in
                inputs[1].data.withUnsafeBufferPointer { b in Kernels.elementwiseSum(a.baseAddress!, b.baseAddress!, py, n) }
            }
            for t in inputs.dropFirst(2) {
                t.data.withUnsafeBufferPointer { Kernels.elementwiseSum(py, $0.baseAddress!, py, n) }
            }
        }
        return Tensor.make("add", shape: shape, data: y, inputs: inputs) { g in
            for t in inputs where t.requiresGrad { t.accumulateGrad(g) }
        }
    }
}

/// Concatenation along an axis of the batched tensor, by default 1 (channels
/// of NCHW, as in inception blocks, Szegedy et al., 2015). Other dimensions
/// must match. model.json: `{"type": "concat", "inputs": ["b1", "b2", "b3"], "attrs": {"axis": 1}}`.
public final class Concat: Layer {
    /// Axis in the batched tensor [N, ...] (>= 1; negative counts from the end).
    public let axis: Int

    public init(axis: Int = 1) { self.axis = axis }

    public convenience init(spec: LayerSpec) throws {
        self.init(axis: try spec.int("axis", default: 1))
    }

    /// Shapes that agree except on the axis -> the shape with the axis summed.
    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard let first = inputShapes.first else { throw ModelError.shape("concat takes 1 or more inputs, got none") }
        let rank = first.count + 1
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 1 && ax < rank else {
            throw ModelError.shape("concat: axis \(axis) is not a non-batch axis of [N] + \(first)")
        }
        var out = first
        out[ax - 1] = 0
        for s in inputShapes {
            guard s.count == first.count, (0..<s.count).allSatisfy({ $0 == ax - 1 || s[$0] == first[$0] }) else {
                throw ModelError.shape(
                    "concat along axis \(ax) needs inputs that agree on every other axis, got \(inputShapes.map { "\($0)" }.joined(separator: ", "))")
            }
            out[ax - 1] += s[ax - 1]
        }
        return out
    }

    /// k inputs [N, C_i, H, W] (for axis 1) -> [N, sum C_i, H, W].
    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(!inputs.isEmpty, "Concat: no inputs")
        let rank = inputs[0].rank
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 1 && ax < rank, "Concat: axis \(axis) out of range for \(inputs[0].shape)")
        for t in inputs {
            precondition(t.rank == rank && (0..<rank).allSatisfy { $0 == ax || t.shape[$0] == inputs[0].shape[$0] },
                         "Concat: shapes \(inputs.map(\.shape)) do not fit along axis \(ax)")
        }
        // Each input contributes `block` contiguous values per outer index.
        let outer = inputs[0].shape[..<ax].product
        let inner = inputs[0].shape[(ax + 1)...].product
        let blocks = inputs.map { $0.shape[ax] * inner }
        let total = blocks.reduce(0, +)
        var outShape = inputs[0].shape
        outShape[ax] = inputs.map { $0.shape[ax] }.reduce(0, +)
        let y = Tensor.filled(outer * total) { py in
            var offset = 0
            for (t, block) in zip(inputs, blocks) {
                t.data.withUnsafeBufferPointer { src in
                    for o in 0..<outer where block > 0 {
                        (py + o * total + offset).update(from: src.baseAddress! + o * block, count: block)
                    }
                }
                offset += block
            }
        }
        return Tensor.make("concat", shape: outShape, data: y, inputs: inputs) { g in
            var offset = 0
            for (t, block) in zip(inputs, blocks) {
                if t.requiresGrad {
                    let off = offset
                    t.accumulateGrad(Tensor.filled(t.count) { dst in
                        g.withUnsafeBufferPointer { src in
                            for o in 0..<outer {
                                (dst + o * block).update(from: src.baseAddress! + o * total + off, count: block)
                            }
                        }
                    })
                }
                offset += block
            }
        }
    }
}
