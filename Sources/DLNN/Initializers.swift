import DLTensor
import Foundation

/// Weight initializers. fanIn/fanOut follow PyTorch's `_calculate_fan_in_and_fan_out`:
/// for a weight of shape [out, in, k...], fanIn = in * prod(k), fanOut = out * prod(k).
public enum Initializer: String, Codable, Sendable, CaseIterable {
    /// He et al., 2015: N(0, 2 / fanIn), for ReLU networks.
    case he
    /// Glorot & Bengio, 2010: U(-a, a) with a = sqrt(6 / (fanIn + fanOut)), for tanh/sigmoid.
    case xavier
    /// All zeros (biases; never for weights that must break symmetry).
    case zeros

    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "Initializer.fans: rank \(shape.count) < 2 for \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// A fresh parameter tensor (requiresGrad) of `shape`.
    public func make(_ shape: [Int], rng: inout SeededGenerator) -> Tensor {
        let t: Tensor
        switch self {
        case .zeros:
            t = Tensor(zeros: shape)
        case .he:
            let (fanIn, _) = Initializer.fans(shape)
            t = Tensor.normal(shape, std: Foundation.sqrt(2 / Float(fanIn)), rng: &rng)
        case .xavier:
            let (fanIn, fanOut) = Initializer.fans(shape)
            let a = Foundation.sqrt(6 / Float(fanIn + fanOut))
            t = Tensor.uniform(shape, low: -a, high: a, rng: &rng)
        }
        t.requiresGrad = true
        return t
    }

    /// Reads `init` from a layer's attributes (default `he`).
    public static func from(_ spec: LayerSpec, key: String = "init", default d: Initializer = .he) throws -> Initializer {
        let s = try spec.string(key, default: d.rawValue)
        guard let v = Initializer(rawValue: s) else {
            throw ModelError.architecture("layer '\(spec.name)': unknown initializer '\(s)' (expected one of \(allCases.map(\.rawValue)))")
        }
        return v
    }
}
