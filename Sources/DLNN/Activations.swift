import DLKernels
import DLTensor

/// An elementwise activation layer: "relu" (Nair & Hinton, 2010),
/// "leaky_relu" (attr `slope`, default 0.01; Maas et al., 2013), "relu6"
/// (Howard et al., 2017), "sigmoid", "tanh". No parameters.
public final class Activation: UnaryLayer {
    public let function: Kernels.Activation

    public init(_ function: Kernels.Activation) {
        if case .leakyRelu(let slope) = function {
            precondition(slope.isFinite, "Activation: leaky ReLU slope \(slope) is not finite")
        }
        self.function = function
    }

    /// From a model.json node of type relu, leaky_relu, relu6, sigmoid or tanh.
    public convenience init(spec: LayerSpec) throws {
        switch spec.type {
        case "relu": self.init(.relu)
        case "leaky_relu":
            let slope = try spec.float("slope", default: 0.01)
            guard slope.isFinite else {
                throw ModelError.architecture("leaky_relu '\(spec.name)': slope \(slope) is not finite")
            }
            self.init(.leakyRelu(slope: slope))
        case "relu6": self.init(.relu6)
        case "sigmoid": self.init(.sigmoid)
        case "tanh": self.init(.tanh)
        default: throw ModelError.architecture("layer '\(spec.name)': '\(spec.type)' is not an activation")
        }
    }

    /// Any shape -> the same shape.
    public func outputShape(_ inputShape: [Int]) throws -> [Int] { inputShape }

    /// x [N, ...] -> [N, ...], elementwise.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        switch function {
        case .relu: return x.relu()
        case .leakyRelu(let slope): return x.leakyRelu(slope: slope)
        case .relu6: return x.relu6()
        case .sigmoid: return x.sigmoid()
        case .tanh: return x.tanh()
        }
    }
}

/// Softmax along an axis of the batched tensor (attr `axis`, default -1, the
/// last; axis 0, the batch, is rejected). For training a classifier, feed the
/// logits to `softmaxCrossEntropy` instead: it is fused and more accurate.
public final class Softmax: UnaryLayer {
    /// Axis in the batched tensor [N, ...]; negative counts from the end.
    public let axis: Int

    public init(axis: Int = -1) { self.axis = axis }

    public convenience init(spec: LayerSpec) throws {
        self.init(axis: try spec.int("axis", default: -1))
    }

    /// Any shape -> the same shape; the axis must exist and not be the batch.
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        let rank = inputShape.count + 1
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 1 && ax < rank else {
            throw ModelError.shape("softmax: axis \(axis) is not a non-batch axis of [N] + \(inputShape)")
        }
        return inputShape
    }

    /// x [N, ...] -> [N, ...]; slices along `axis` sum to 1.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        x.softmax(axis: axis)
    }
}
