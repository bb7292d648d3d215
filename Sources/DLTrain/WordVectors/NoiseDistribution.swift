import DLTensor
import Foundation

/// The noise distribution of negative sampling (Mikolov et al. 2013,
/// "Distributed Representations of Words and Phrases"; course notes eq. 4.20):
/// P(w) = f(w)^(3/4) / sum_j f(w_j)^(3/4), with f the corpus counts. Between
/// the unigram distribution (too many "the", "of") and the uniform one.
/// Sampled by binary search in the cumulative table.
public struct NoiseDistribution: Sendable {
    /// Cumulative probabilities, the last exactly 1.
    let cumulative: [Double]
    public let power: Double

    /// `counts[i]` occurrences of id i (ids with a count of 0 are never drawn).
    public init(counts: [Int], power: Double = 0.75) {
        precondition(counts.contains { $0 > 0 }, "NoiseDistribution: every count is 0")
        self.power = power
        var acc = 0.0
        var c = counts.map { n -> Double in
            acc += n > 0 ? pow(Double(n), power) : 0
            return acc
        }
        for i in c.indices { c[i] /= acc }
        c[c.count - 1] = 1
        cumulative = c
    }

    /// P(id).
    public func probability(_ id: Int) -> Double {
        cumulative[id] - (id == 0 ? 0 : cumulative[id - 1])
    }

    public func sample(_ rng: inout SeededGenerator) -> Int {
        let u = Double(rng.next() >> 11) * (1.0 / Double(1 << 53))
        // The first index whose cumulative probability exceeds u.
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
