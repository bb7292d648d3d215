import DLKernels

/// A dense, contiguous, row-major Float32 tensor that can take part in
/// reverse-mode automatic differentiation.
///
/// Images are NCHW. A tensor is a reference: parameters are updated in place by
/// optimizers, and every op returns a new tensor. When gradient recording is on
/// (see `GradMode`) and an input `requiresGrad`, the op records a backward
/// closure on the output; `backward()` walks that graph in reverse.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The values, row-major; `data.count == shape.product`.
    public var data: [Float]
    /// The accumulated gradient of the loss with respect to this tensor, or nil.
    public var grad: [Float]?
    /// Whether gradients flow to (and through) this tensor.
    public var requiresGrad: Bool
    /// The op that produced this tensor, when recorded.
    public internal(set) var node: Node?

    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
    }

    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public convenience init(scalar: Float) {
        self.init(shape: [], data: [scalar])
    }

    /// Number of elements.
    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(data.count == 1, "Tensor.scalar: shape \(shape) is not a scalar")
        return data[0]
    }

    /// A copy of the values with no autodiff history.
    public func detached() -> Tensor { Tensor(shape: shape, data: data) }

    /// Resets the accumulated gradient.
    public func zeroGrad() { grad = nil }

    public var description: String {
        let head = data.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(data.count > 8 ? ", ..." : "")])"
    }

    /// Row-major strides of a shape.
    public static func strides(of shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }
}

extension Collection where Element == Int {
    /// Product of the dimensions (1 for a scalar shape).
    public var product: Int { reduce(1, *) }
}
