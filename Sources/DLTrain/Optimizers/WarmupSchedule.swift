import Foundation

/// A per-update schedule: linear warm-up to lr0 over `warmupSteps` updates,
/// then decay with the inverse square root of the step, as in "Attention Is
/// All You Need" (Vaswani et al., 2017), with the peak rate given directly:
/// lr(step) = lr0 * min(step / warmup, sqrt(warmup / step)), step counted from 1.
/// With no warm-up, lr0 throughout.
public struct WarmupInverseSquareRoot: Equatable, Sendable {
    public var warmupSteps: Int

    public init(warmupSteps: Int) {
        precondition(warmupSteps >= 0, "WarmupInverseSquareRoot: negative warm-up \(warmupSteps)")
        self.warmupSteps = warmupSteps
    }

    public func learningRate(_ lr0: Float, step: Int) -> Float {
        guard warmupSteps > 0 else { return lr0 }
        let s = Float(max(step, 1)), w = Float(warmupSteps)
        return lr0 * min(s / w, (w / s).squareRoot())
    }
}

/// A per-update schedule: linear warm-up to lr0 over `warmupSteps` updates,
/// then cosine decay to 0 at update `totalSteps` (Loshchilov & Hutter, 2017,
/// without restarts), step counted from 1.
public struct WarmupCosine: Equatable, Sendable {
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(warmupSteps: Int, totalSteps: Int) {
        precondition(warmupSteps >= 0 && totalSteps >= 0, "WarmupCosine: negative steps")
        (self.warmupSteps, self.totalSteps) = (warmupSteps, totalSteps)
    }

    public func learningRate(_ lr0: Float, step: Int) -> Float {
        if step <= warmupSteps { return lr0 * Float(step) / Float(max(warmupSteps, 1)) }
        let t = Double(step - warmupSteps) / Double(max(totalSteps - warmupSteps, 1))
        return lr0 * Float(0.5 * (1 + cos(Double.pi * min(t, 1))))
    }
}
