import Foundation

/// A seeded generator (SplitMix64 seeding a xoshiro256**), so that runs repeat.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal by Box-Muller.
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return Foundation.sqrt(-2 * Foundation.log(u1)) * Foundation.cos(2 * .pi * u2)
    }
}

extension Tensor {
    /// Values drawn uniformly from [low, high).
    public static func uniform(_ shape: [Int], low: Float, high: Float, rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.product).map { _ in low + (high - low) * rng.uniform() })
    }

    /// Values drawn from N(0, std^2).
    public static func normal(_ shape: [Int], std: Float, rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.product).map { _ in std * rng.normal() })
    }
}
