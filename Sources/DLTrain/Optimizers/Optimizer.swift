import DLKernels
import DLTensor

/// One parameter's optimizer state: a step count and named buffers the size of
/// the parameter, with PyTorch's names ("momentum_buffer", "square_avg",
/// "exp_avg", "exp_avg_sq") so the state reads like a `torch.optim` state dict.
public struct ParameterState: Codable, Equatable, Sendable {
    /// Updates applied to this parameter so far (Adam's t).
    public var step: Int = 0
    public var buffers: [String: [Float]] = [:]

    public init(step: Int = 0, buffers: [String: [Float]] = [:]) {
        self.step = step
        self.buffers = buffers
    }

    /// Takes a buffer out (zeros of `count` on first use) so it can be updated
    /// in place without a copy; put it back with `buffers[name] = b`.
    mutating func take(_ name: String, count: Int) -> [Float] {
        buffers.removeValue(forKey: name) ?? [Float](repeating: 0, count: count)
    }
}

/// The per-parameter update of one optimizer: `update(parameter, gradient,
/// state)`. The loop over parameters, gradient clipping and L2 live in
/// `Optimizer`, once for every rule.
public protocol UpdateRule: Sendable {
    /// The name in recipes and checkpoints ("sgd", "momentum", "rmsprop", "adam").
    var name: String { get }
    /// p <- p - lr * (rule's step), updating `state`; `state.step` has already
    /// been incremented for this update.
    func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ state: inout ParameterState, lr: Float)
}

/// Everything an optimizer needs to resume exactly: the rule's name and every
/// parameter's state, keyed by the model's parameter names ("conv1.weight").
public struct OptimizerState: Codable, Equatable, Sendable {
    public var rule: String
    public var parameters: [String: ParameterState]

    public init(rule: String, parameters: [String: ParameterState]) {
        self.rule = rule
        self.parameters = parameters
    }
}

/// Applies an `UpdateRule` to every parameter, after optional gradient clipping
/// by global norm and L2 regularization.
///
/// Order of one `step`: (1) clip the raw gradients by their global norm,
/// (2) add `l2 * W` to the gradient of every weight (parameters of rank >= 2:
/// dense and convolution kernels; biases and batch-norm gamma/beta are rank 1
/// and are not regularized), (3) apply the rule, (4) clear the gradients.
/// This is the order of PyTorch's `clip_grad_norm_` followed by an optimizer
/// with `weight_decay`.
///
/// L2 follows the course: the cost gains (lambda / 2m) * sum ||W||^2, whose
/// gradient is (lambda / m) * W. Here `l2` is that coefficient lambda / m;
/// `Trainer` computes it with m = the number of training examples (the size of
/// the training split), so the regularized objective does not depend on the
/// mini-batch size.
public final class Optimizer {
    public let rule: UpdateRule
    /// The learning rate of the next step (set by the trainer from a schedule).
    public var learningRate: Float
    /// The L2 coefficient lambda / m added to weight gradients (0 = off).
    public var l2: Float
    /// When set, gradients are rescaled so that their global L2 norm is at most this.
    public var clipNorm: Float?
    public private(set) var state: OptimizerState

    public init(rule: UpdateRule, learningRate: Float, l2: Float = 0, clipNorm: Float? = nil) {
        precondition(learningRate >= 0, "Optimizer: negative learning rate \(learningRate)")
        self.rule = rule
        self.learningRate = learningRate
        self.l2 = l2
        self.clipNorm = clipNorm
        self.state = OptimizerState(rule: rule.name, parameters: [:])
    }

    /// Replaces the state (to resume). Throws if it belongs to another rule.
    public func load(_ s: OptimizerState) throws {
        guard s.rule == rule.name else {
            throw TrainingError.checkpoint("optimizer state is for '\(s.rule)', not '\(rule.name)'")
        }
        state = s
    }

    /// The global L2 norm of the gradients of `parameters` (missing gradients count as 0).
    public static func gradientNorm(_ parameters: [(name: String, tensor: Tensor)]) -> Float {
        var total: Double = 0
        for (_, t) in parameters {
            guard let g = t.grad else { continue }
            total += g.withUnsafeBufferPointer { Double(Kernels.dot($0.baseAddress!, $0.baseAddress!, g.count)) }
        }
        return Float(total.squareRoot())
    }

    /// One update of every parameter that has a gradient; parameters without
    /// one are skipped (as in PyTorch). Returns the gradient norm before clipping.
    @discardableResult
    public func step(_ parameters: [(name: String, tensor: Tensor)]) -> Float {
        let norm = Optimizer.gradientNorm(parameters)
        let scale: Float = {
            guard let c = clipNorm, norm > c else { return 1 }
            return c / (norm + 1e-6)  // PyTorch's clip_grad_norm_ uses the same 1e-6
        }()
        let lr = learningRate
        for (name, t) in parameters {
            guard var g = t.grad else { continue }
            precondition(g.count == t.count, "Optimizer.step: gradient of '\(name)' has \(g.count) values for \(t.shape)")
            let n = g.count
            g.withUnsafeMutableBufferPointer { pg in
                let gp = pg.baseAddress!
                if scale != 1 { Kernels.map(gp, gp, n, { $0 * Kernels.V(repeating: scale) }, { $0 * scale }) }
                if l2 != 0 && t.rank >= 2 {
                    t.data.withUnsafeBufferPointer { Kernels.axpy(l2, $0.baseAddress!, gp, n) }
                }
            }
            var s = state.parameters.removeValue(forKey: name) ?? ParameterState()
            s.step += 1
            t.data.withUnsafeMutableBufferPointer { p in
                g.withUnsafeBufferPointer { rule.update(p, $0, &s, lr: lr) }
            }
            state.parameters[name] = s
            t.grad = nil
        }
        return norm
    }

    /// Clears every gradient (e.g. after a skipped step).
    public static func zeroGrad(_ parameters: [(name: String, tensor: Tensor)]) {
        for (_, t) in parameters { t.grad = nil }
    }
}
