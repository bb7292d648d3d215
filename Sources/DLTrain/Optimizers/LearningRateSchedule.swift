import Foundation

/// The learning rate as a function of the epoch (0-based: epoch 0 uses lr0).
/// Schedules are per epoch, as in the course; the trainer sets the rate at the
/// start of each epoch.
public enum LearningRateSchedule: Equatable, Sendable {
    /// lr0 throughout.
    case constant
    /// The course's decay: lr0 / (1 + decayRate * epoch).
    case inverseTime(decayRate: Float)
    /// lr0 * rate^epoch (PyTorch `ExponentialLR` with gamma = rate).
    case exponential(rate: Float)
    /// lr0 * gamma^floor(epoch / stepSize) (PyTorch `StepLR`).
    case step(stepSize: Int, gamma: Float)
    /// lr0 * (1 + cos(pi * epoch / epochs)) / 2 (Loshchilov & Hutter, 2017, without restarts).
    case cosine(epochs: Int)

    public func learningRate(_ lr0: Float, epoch: Int) -> Float {
        let e = Float(epoch)
        switch self {
        case .constant: return lr0
        case .inverseTime(let d): return lr0 / (1 + d * e)
        case .exponential(let r): return lr0 * Float(pow(Double(r), Double(epoch)))
        case .step(let s, let gamma): return lr0 * Float(pow(Double(gamma), Double(epoch / max(s, 1))))
        case .cosine(let n): return lr0 * Float(1 + cos(Double.pi * Double(min(epoch, n)) / Double(max(n, 1)))) / 2
        }
    }
}
