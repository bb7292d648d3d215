import DLNN
import DLTensor
import Foundation

/// Toy step models for the decoding tests: next-token probabilities come
/// from a table keyed by (source, generated prefix), and the prefix the model
/// sees is the one carried in its state, as a KV cache carries one entry per
/// fed token. A search that reordered rows wrongly would read the wrong
/// prefix and get other probabilities.
enum Toy {
    static let start = 0
    static let end = 1
    static let a = 2
    static let b = 3
}

/// One cache entry per fed token, per row.
struct PrefixCache: DecoderState {
    var sources: [[Int]]
    /// Tokens fed to each row so far, the start token first.
    var fed: [[Int]]
    var rowCount: Int { fed.count }

    func selecting(rows: [Int]) -> PrefixCache {
        PrefixCache(sources: rows.map { sources[$0] }, fed: rows.map { fed[$0] })
    }
}

/// What the model was asked to do.
final class StepLog: @unchecked Sendable {
    var startCalls = 0
    var steps = 0
    var rowsPerStep: [Int] = []
    /// Cache entries computed: one per row per step when nothing is replayed.
    var entriesComputed = 0
    /// Entries computed for a position the row's cache already held (a
    /// replayed prefix); must stay 0.
    var entriesRecomputed = 0
    /// Each row's fed tokens after each step.
    var fedAfterStep: [[[Int]]] = []
}

struct TableDecoder: IncrementalDecoder {
    let vocabularySize: Int
    /// Probabilities of the next token given the source and the tokens
    /// generated so far (start token not included).
    let table: ([Int], [Int]) -> [Double]
    let log = StepLog()

    func start(_ sources: [[Int]]) -> PrefixCache {
        log.startCalls += 1
        return PrefixCache(sources: sources, fed: sources.map { _ in [] })
    }

    func step(_ state: PrefixCache, keeping rows: [Int], lastTokens: [Int])
        -> (logProbabilities: Tensor, state: PrefixCache)
    {
        precondition(rows.count == lastTokens.count)
        var next = state.selecting(rows: rows)
        log.steps += 1
        log.rowsPerStep.append(rows.count)
        var out = [Float]()
        out.reserveCapacity(rows.count * vocabularySize)
        for i in 0..<rows.count {
            // Only the new token becomes a cache entry; a row fed its start
            // token again (a restart) would be recomputing its prefix.
            if !next.fed[i].isEmpty && lastTokens[i] == Toy.start { log.entriesRecomputed += next.fed[i].count }
            next.fed[i].append(lastTokens[i])
            log.entriesComputed += 1
            let p = table(next.sources[i], Array(next.fed[i].dropFirst()))
            precondition(p.count == vocabularySize)
            out += p.map { Float(Foundation.log($0)) }
        }
        log.fedAfterStep.append(next.fed)
        return (Tensor(shape: [rows.count, vocabularySize], data: out), next)
    }
}

extension TableDecoder {
    /// A table over {<s>, </s>, a, b} given by prefix; prefixes not listed get
    /// `otherwise`. Entries are [P(</s>), P(a), P(b)]; P(<s>) is 0.
    static func fixed(_ rows: [[Int]: [Double]], otherwise: [Double]) -> TableDecoder {
        TableDecoder(vocabularySize: 4) { _, prefix in [0] + (rows[prefix] ?? otherwise) }
    }

    /// Pseudo-random distributions that depend on the whole source and the
    /// whole prefix; P(<s>) is 0.
    static func random(vocabularySize: Int, seed: UInt64) -> TableDecoder {
        TableDecoder(vocabularySize: vocabularySize) { source, prefix in
            var h = seed &* 0x9E37_79B9_7F4A_7C15
            for t in source + [-1] + prefix { h = splitMix(h ^ UInt64(bitPattern: Int64(t + 7))) }
            var weights = [0.0]
            for _ in 1..<vocabularySize {
                h = splitMix(h)
                weights.append(exp(3 * Double(h >> 11) / Double(1 << 53)))
            }
            let sum = weights.reduce(0, +)
            return weights.map { $0 / sum }
        }
    }

    private static func splitMix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every complete output of length <= maxLength (ended by </s>, or cut at
/// maxLength), scored by the model's log-probability: the exact answer a
/// beam as wide as the search space must find.
func bruteForceBest(_ model: TableDecoder, source: [Int], options: DecodingOptions) -> [Hypothesis] {
    var all: [Hypothesis] = []
    func walk(_ prefix: [Int], _ lps: [Float]) {
        let p = model.table(source, prefix).map { Float(log($0)) }
        for token in 0..<model.vocabularySize where p[token] > -.infinity {
            let tokens = prefix + [token]
            let logs = lps + [p[token]]
            let ended = token == options.endToken
            if ended && tokens.count < options.minLength { continue }
            if ended || tokens.count == options.maxLength {
                let total = logs.reduce(0.0) { $0 + Double($1) }
                all.append(Hypothesis(
                    tokens: tokens, tokenLogProbabilities: logs, logProbability: total,
                    score: lengthNormalized(logProbability: total, length: tokens.count, alpha: options.lengthPenalty),
                    ended: ended))
            } else {
                walk(tokens, logs)
            }
        }
    }
    walk([], [])
    return all.sorted { $0.score > $1.score }
}
