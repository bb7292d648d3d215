import Foundation

/// A corpus BLEU score and what it is made of; percentages as sacrebleu prints them.
public struct BLEUScore: Sendable, Equatable, Codable {
    /// BLEU in 0...100.
    public var score: Double
    /// Clipped n-gram matches and hypothesis n-grams, for n = 1...maxOrder.
    public var matches: [Int]
    public var totals: [Int]
    /// Modified n-gram precisions in 0...100 (after smoothing).
    public var precisions: [Double]
    public var brevityPenalty: Double
    public var hypothesisLength: Int
    public var referenceLength: Int
}

/// A hypothesis file and a reference file that cannot be scored together.
public struct TranslationMetricError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func counts(_ hypotheses: Int, _ references: Int) -> TranslationMetricError {
        TranslationMetricError("\(hypotheses) hypotheses but \(references) references: the lines must pair up")
    }
}

/// Corpus BLEU: BLEU: Papineni et al., 2002; computed as sacrebleu 2.x does
/// with its defaults (Post, 2018, "A Call for Clarity in Reporting BLEU
/// Scores"): 13a tokenization, mixed case, one reference per line, clipped
/// n-gram precisions for n = 1...4 summed over the corpus, geometric mean,
/// brevity penalty exp(1 - r/c) when c < r, and 'exp' smoothing (NIST / mteval
/// method 3: the k-th order without a match counts 1 / (2^k * total)).
public enum BLEU {
    public enum Smoothing: Sendable, Equatable {
        /// No smoothing: an order without matches makes BLEU 0.
        case none
        /// sacrebleu's default ('exp').
        case exp
    }

    /// Scores hypotheses against references, line by line.
    /// Throws when the two lists differ in length.
    public static func corpus(hypotheses: [String], references: [String], maxOrder: Int = 4,
                              smoothing: Smoothing = .exp) throws -> BLEUScore {
        guard hypotheses.count == references.count else {
            throw TranslationMetricError.counts(hypotheses.count, references.count)
        }
        precondition(maxOrder >= 1, "BLEU.corpus: maxOrder \(maxOrder) < 1")
        var ids: [ArraySlice<Unicode.Scalar>: Int] = [:]
        func encode(_ line: String) -> [Int] {
            Tokenizer13a.scalarTokens(line).map { t in
                if let id = ids[t] { return id }
                ids[t] = ids.count
                return ids.count - 1
            }
        }
        var matches = [Int](repeating: 0, count: maxOrder), totals = matches
        var hypLength = 0, refLength = 0
        for (h, r) in zip(hypotheses, references) {
            let hyp = encode(h), ref = encode(r)
            hypLength += hyp.count
            refLength += ref.count
            for n in 1...maxOrder {
                let hypGrams = ngramCounts(hyp, n), refGrams = ngramCounts(ref, n)
                totals[n - 1] += max(0, hyp.count - n + 1)
                for (g, c) in hypGrams { matches[n - 1] += min(c, refGrams[g] ?? 0) }
            }
        }
        return score(matches: matches, totals: totals, hypothesisLength: hypLength,
                     referenceLength: refLength, smoothing: smoothing)
    }

    /// sacrebleu's `BLEU.compute_bleu` (effective_order off, as for a corpus).
    public static func score(matches: [Int], totals: [Int], hypothesisLength c: Int, referenceLength r: Int,
                             smoothing: Smoothing = .exp) -> BLEUScore {
        precondition(matches.count == totals.count, "BLEU.score: \(matches.count) match counts, \(totals.count) totals")
        let order = matches.count
        var bp = 1.0
        if c < r { bp = c > 0 ? exp(1 - Double(r) / Double(c)) : 0 }
        var precisions = [Double](repeating: 0, count: order)
        var result = BLEUScore(score: 0, matches: matches, totals: totals, precisions: precisions,
                               brevityPenalty: bp, hypothesisLength: c, referenceLength: r)
        guard matches.contains(where: { $0 > 0 }) else { return result }
        var smooth = 1.0
        for n in 0..<order {
            if totals[n] == 0 { break }
            if matches[n] == 0 {
                if smoothing == .exp {
                    smooth *= 2
                    precisions[n] = 100 / (smooth * Double(totals[n]))
                }
            } else {
                precisions[n] = 100 * Double(matches[n]) / Double(totals[n])
            }
        }
        // sacrebleu's my_log: log(0) is -9999999999, so a zero precision gives 0.
        let logSum = precisions.reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
        result.precisions = precisions
        result.score = bp * exp(logSum / Double(order))
        return result
    }

    /// Counts of the n-grams of a token-id sequence.
    static func ngramCounts(_ tokens: [Int], _ n: Int) -> [ArraySlice<Int>: Int] {
        var counts: [ArraySlice<Int>: Int] = [:]
        guard tokens.count >= n else { return counts }
        for i in 0...(tokens.count - n) { counts[tokens[i..<i + n], default: 0] += 1 }
        return counts
    }
}
