import DLTensor

/// What a forward pass needs besides its inputs: whether it is training
/// (dropout and batch norm behave differently) and a seeded generator for
/// stochastic layers.
public final class ForwardContext {
    public var training: Bool
    public var rng: SeededGenerator

    public init(training: Bool, seed: UInt64 = 0) {
        self.training = training
        self.rng = SeededGenerator(seed: seed)
    }

    /// Inference: no dropout, batch norm uses running statistics.
    public static func inference() -> ForwardContext { ForwardContext(training: false) }
}

/// A node of a model graph. The one forward verb is `callAsFunction`; shapes
/// are documented on each conforming type. Parameters are tensors with
/// `requiresGrad`, updated in place by optimizers; buffers (running
/// statistics) are saved in checkpoints but not trained.
///
/// Names follow PyTorch's so that checkpoints interoperate: "weight", "bias",
/// "running_mean", "running_var"; weight layouts are PyTorch's too
/// (Linear [out, in], Conv2d [out, in/groups, kh, kw],
/// ConvTranspose2d [in, out, kh, kw]).
public protocol Layer: AnyObject {
    /// Forward over the node's inputs (most layers take exactly one).
    func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor
    /// Trainable tensors by local name, in a stable order.
    var parameters: [(name: String, tensor: Tensor)] { get }
    /// Saved, untrained tensors by local name.
    var buffers: [(name: String, tensor: Tensor)] { get }
    /// Output shape (without batch) for input shapes (without batch); throws
    /// `ModelError.shape` when they do not fit, so a bad model.json is
    /// rejected at load time, not at the first request.
    func outputShape(_ inputShapes: [[Int]]) throws -> [Int]
}

extension Layer {
    public var parameters: [(name: String, tensor: Tensor)] { [] }
    public var buffers: [(name: String, tensor: Tensor)] { [] }
}

/// A layer with exactly one input.
public protocol UnaryLayer: Layer {
    func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    func outputShape(_ inputShape: [Int]) throws -> [Int]
}

extension UnaryLayer {
    public func callAsFunction(_ inputs: [Tensor], _ ctx: ForwardContext) -> Tensor {
        precondition(inputs.count == 1, "\(Self.self): expects 1 input, got \(inputs.count)")
        return self(inputs[0], ctx)
    }

    public func outputShape(_ inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw ModelError.shape("\(Self.self) takes 1 input, got \(inputShapes.count)")
        }
        return try outputShape(inputShapes[0])
    }
}

/// Errors a model file, a checkpoint or a client can cause.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The architecture is malformed (unknown layer, missing attribute, cycle, ...).
    case architecture(String)
    /// Shapes do not fit.
    case shape(String)
    /// A checkpoint file is malformed or does not match the architecture.
    case checkpoint(String)
    /// A file could not be read or written.
    case io(String)

    public var description: String {
        switch self {
        case .architecture(let m): return "invalid architecture: \(m)"
        case .shape(let m): return "shape mismatch: \(m)"
        case .checkpoint(let m): return "invalid checkpoint: \(m)"
        case .io(let m): return "i/o error: \(m)"
        }
    }
}
