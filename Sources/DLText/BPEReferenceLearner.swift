/// The plain version of `BPELearner`: recounts every pair over every piece
/// before each merge. Slow (a corpus pass per merge); kept to hold the fast
/// learner to the same merges in tests, and to show what it computes.
extension BPELearner {
    /// The model and each piece's final segmentation (symbol ids).
    static func learnReference(counts: [SubwordPreTokenizer.Piece: Int], options: BPEOptions)
        -> (model: BPEModel, segmentation: [SubwordPreTokenizer.Piece: [Int32]]) {
        var start = Start(counts: counts, options: options)
        var words = start.words
        let maxTokens = options.vocabularySize ?? Int.max
        while start.merges.count < options.merges && start.tokens.count < maxTokens {
            var pairs: [UInt64: Int] = [:]
            for (w, f) in zip(words, start.freq) {
                for i in 0..<(w.count - 1) where w[i] >= 0 && w[i + 1] >= 0 {
                    pairs[BPEModel.pairKey(w[i], w[i + 1]), default: 0] += f
                }
            }
            // Highest count; ties to the smaller left id, then the smaller right id.
            guard let best = pairs.filter({ $0.value > 0 }).min(by: { x, y in
                x.value != y.value ? x.value > y.value : x.key < y.key
            }), best.value >= options.minFrequency else { break }
            let a = Int32(best.key >> 32), b = Int32(truncatingIfNeeded: best.key)
            let c = start.add(a, b)
            for j in words.indices {
                var out: [Int32] = []
                var i = 0
                let w = words[j]
                while i < w.count {
                    if i + 1 < w.count && w[i] == a && w[i + 1] == b {
                        out.append(c)
                        i += 2
                    } else {
                        out.append(w[i])
                        i += 1
                    }
                }
                words[j] = out
            }
        }
        return (start.model(), Dictionary(uniqueKeysWithValues: zip(start.pieces, words)))
    }
}
