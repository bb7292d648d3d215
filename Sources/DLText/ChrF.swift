import Foundation

/// A corpus chrF score and its per-order statistics.
public struct ChrFScore: Sendable, Equatable, Codable {
    /// chrF in 0...100.
    public var score: Double
    /// Hypothesis, reference and matching character n-grams, for n = 1...order.
    public var hypothesisNGrams: [Int]
    public var referenceNGrams: [Int]
    public var matches: [Int]
}

/// chrF: Popović, 2015, "chrF: character n-gram F-score for automatic MT
/// evaluation"; computed as sacrebleu 2.x's CHRF with its defaults: character
/// n-grams of orders 1...6 over each line with its whitespace removed (Unicode
/// scalars, as Python's code points), no word n-grams, beta 2, mixed case;
/// statistics summed over the corpus, then the precisions and recalls of the
/// orders that occur on both sides averaged, and F-beta of the two averages.
public enum ChrF {
    /// Scores hypotheses against references, line by line.
    /// Throws when the two lists differ in length.
    public static func corpus(hypotheses: [String], references: [String], order: Int = 6,
                              beta: Double = 2) throws -> ChrFScore {
        guard hypotheses.count == references.count else {
            throw TranslationMetricError.counts(hypotheses.count, references.count)
        }
        precondition((1...6).contains(order), "ChrF.corpus: order \(order) outside 1...6")
        var hypTotal = [Int](repeating: 0, count: order), refTotal = hypTotal, matchTotal = hypTotal
        for (h, r) in zip(hypotheses, references) {
            let hyp = characters(h), ref = characters(r)
            for n in 1...order {
                let hg = ngramCounts(hyp, n), rg = ngramCounts(ref, n)
                var hypCount = 0, match = 0
                for (g, c) in hg {
                    hypCount += c
                    if let rc = rg[g] { match += min(c, rc) }
                }
                // sacrebleu: "Don't count hits if no reference exists for that n-gram".
                hypTotal[n - 1] += rg.isEmpty ? 0 : hypCount
                refTotal[n - 1] += max(0, ref.count - n + 1)
                matchTotal[n - 1] += match
            }
        }
        return ChrFScore(score: fScore(hypothesis: hypTotal, reference: refTotal, matches: matchTotal, beta: beta),
                         hypothesisNGrams: hypTotal, referenceNGrams: refTotal, matches: matchTotal)
    }

    /// sacrebleu's `CHRF._compute_f_score` without eps smoothing (its default).
    public static func fScore(hypothesis: [Int], reference: [Int], matches: [Int], beta: Double = 2) -> Double {
        let factor = beta * beta
        var avgPrecision = 0.0, avgRecall = 0.0, effectiveOrder = 0
        for i in 0..<matches.count where hypothesis[i] > 0 && reference[i] > 0 {
            avgPrecision += Double(matches[i]) / Double(hypothesis[i])
            avgRecall += Double(matches[i]) / Double(reference[i])
            effectiveOrder += 1
        }
        guard effectiveOrder > 0 else { return 0 }
        avgPrecision /= Double(effectiveOrder)
        avgRecall /= Double(effectiveOrder)
        guard avgPrecision + avgRecall > 0 else { return 0 }
        return 100 * (1 + factor) * avgPrecision * avgRecall / (factor * avgPrecision + avgRecall)
    }

    /// The line's scalars without whitespace (`''.join(line.rstrip().split())`).
    static func characters(_ line: String) -> [UInt32] {
        line.unicodeScalars.filter { !PythonText.isSpace($0) }.map(\.value)
    }

    /// Up to six scalars (21 bits each) packed in two words: a hashable n-gram key
    /// (one dictionary per order, so grams of different lengths never meet).
    struct Gram: Hashable {
        var low: UInt64 = 0
        var high: UInt64 = 0
    }

    static func ngramCounts(_ s: [UInt32], _ n: Int) -> [Gram: Int] {
        var counts: [Gram: Int] = [:]
        guard s.count >= n else { return counts }
        for i in 0...(s.count - n) {
            var g = Gram()
            for k in 0..<n {
                let v = UInt64(s[i + k])
                if k < 3 { g.low |= v << (21 * UInt64(k)) } else { g.high |= v << (21 * UInt64(k - 3)) }
            }
            counts[g, default: 0] += 1
        }
        return counts
    }
}
