import DLKernels
import DLTensor
import Foundation

/// Skip-gram with negative sampling (word2vec; Mikolov et al. 2013) over a
/// `SkipGramCorpus`: for each centre word c and each context word o within a
/// window (its size drawn uniformly in 1...window per centre, as word2vec
/// does), one logistic unit for (c, o) and `negatives` for noise words drawn
/// from `NoiseDistribution` (unigram^(3/4); a draw equal to o is drawn
/// again). Loss and gradients: `SkipGramLoss`. Every pair is one update of
/// the rows it touches, through an `UpdateRule` applied to each row as a
/// parameter of its own (SGD; Adam with one step count per row, the "lazy"
/// Adam of sparse embeddings). The learning rate falls linearly to 1e-4 of
/// its start over the run, as in word2vec.
///
/// Frequent words are subsampled when `subsample` t > 0: an occurrence of a
/// word of frequency f is kept with probability (sqrt(f / t) + 1) t / f
/// (word2vec's code; the paper's 1 - sqrt(t / f) is the same idea).
///
/// The word vectors are the input vectors E; rows of words never seen (the
/// reserved <pad>/<unk>) stay zero. Single-threaded and seeded: the same
/// corpus, options and seed give the same vectors.
public final class SkipGramTrainer {
    /// Encoded flat into a recipe (`SkipGramRecipe` decodes them, strictly, with defaults).
    public struct Options: Encodable, Equatable, Sendable {
        public var dim: Int = 50
        public var window: Int = 5
        public var negatives: Int = 5
        public var epochs: Int = 5
        /// "sgd" or "adam".
        public var optimizer: String = "sgd"
        public var lr: Float = 0.025
        /// word2vec's t (1e-3 for small corpora, 1e-5 for billions of words); 0 = off.
        public var subsample: Double = 0
        public var noisePower: Double = 0.75
        public var seed: UInt64 = 1

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case dim, window, negatives, epochs, optimizer, lr, subsample, seed
            case noisePower = "noise_power"
        }
    }

    /// What one epoch did.
    public struct Epoch: Codable, Equatable, Sendable {
        public var epoch: Int
        /// Mean loss per (centre, context) pair, before each pair's update.
        public var loss: Double
        public var pairs: Int
        public var seconds: Double
    }

    public let corpus: SkipGramCorpus
    public let options: Options
    public let noise: NoiseDistribution
    /// E [words, dim], the word vectors; θ [words, dim], the output vectors.
    public private(set) var input: [Float]
    public private(set) var output: [Float]
    let rule: UpdateRule
    var inputStates: [ParameterState]
    var outputStates: [ParameterState]
    var rng: SeededGenerator
    var processedTokens = 0

    public var onEpoch: ((Epoch) -> Void)?
    public var isCancelled: () -> Bool = { false }

    public init(corpus: SkipGramCorpus, options: Options) {
        precondition(options.dim > 0 && options.window > 0 && options.negatives >= 0 && options.epochs > 0,
                     "SkipGramTrainer: options \(options)")
        self.corpus = corpus
        self.options = options
        noise = NoiseDistribution(counts: corpus.counts, power: options.noisePower)
        rule = options.optimizer == "adam" ? Adam() as UpdateRule : SGD()
        rng = SeededGenerator(seed: options.seed)
        let n = corpus.vocabulary.count, d = options.dim
        // word2vec: E uniform in [-0.5/dim, 0.5/dim), θ zero; unseen rows zero.
        input = [Float](repeating: 0, count: n * d)
        output = [Float](repeating: 0, count: n * d)
        for w in 0..<n where corpus.counts[w] > 0 {
            for j in 0..<d { input[w * d + j] = (rng.uniform() - 0.5) / Float(d) }
        }
        inputStates = Array(repeating: ParameterState(), count: n)
        outputStates = Array(repeating: ParameterState(), count: n)
    }

    /// Trains for `options.epochs` epochs; returns each epoch's figures.
    public func train() throws -> [Epoch] {
        var epochs: [Epoch] = []
        for e in 0..<options.epochs {
            let start = ContinuousClock.now
            let (loss, pairs) = try epoch()
            guard loss.isFinite else { throw TrainingError.diverged(epoch: e, batch: 0, loss: Float(loss)) }
            let r = Epoch(epoch: e + 1, loss: loss, pairs: pairs, seconds: (ContinuousClock.now - start) / .seconds(1))
            epochs.append(r)
            onEpoch?(r)
        }
        return epochs
    }

    /// The mean loss, at the current vectors and without updating them, of
    /// the first `maxPairs` (centre, context) pairs of the corpus (full
    /// window, no subsampling), each with noise drawn from a generator seeded
    /// with `seed`: the same pairs and noise on every call, so two calls
    /// measure the training in between. Before training θ = 0 and every
    /// unit gives log 2: (1 + negatives) log 2.
    public func evaluate(maxPairs: Int = 10_000, seed: UInt64 = 99) -> Double {
        let d = options.dim, k = options.negatives
        var g = SeededGenerator(seed: seed)
        var gc = [Float](repeating: 0, count: d), go = [Float](repeating: 0, count: (k + 1) * d)
        var sum = 0.0, pairs = 0
        input.withUnsafeBufferPointer { e in
            output.withUnsafeBufferPointer { o in
                outer: for sentence in corpus.sentences {
                    for (i, c) in sentence.enumerated() {
                        for j in max(0, i - options.window)...min(sentence.count - 1, i + options.window) where j != i {
                            guard pairs < maxPairs else { break outer }
                            let rows = [sentence[j]] + (0..<k).map { _ in noise.sample(&g) }
                            sum += Double(SkipGramLoss.forward(center: e.baseAddress! + c * d, outputs: rows.map { o.baseAddress! + $0 * d },
                                                               dim: d, gradCenter: &gc, gradOutputs: &go))
                            pairs += 1
                        }
                    }
                }
            }
        }
        return pairs == 0 ? 0 : sum / Double(pairs)
    }

    /// E as a tensor [words, dim].
    public var vectors: Tensor { Tensor(shape: [corpus.vocabulary.count, options.dim], data: input) }

    /// One pass over the corpus: (mean loss per pair, pairs).
    func epoch() throws -> (Double, Int) {
        let d = options.dim, k = options.negatives, total = options.epochs * max(1, corpus.tokenCount)
        let keep = keepProbabilities()
        var lossSum = 0.0, pairs = 0
        var gradCenter = [Float](repeating: 0, count: d)
        var gradOutputs = [Float](repeating: 0, count: (k + 1) * d)
        var rows = [Int](repeating: 0, count: k + 1)
        for sentence in corpus.sentences {
            if isCancelled() { throw TrainingError.cancelled }
            let kept = keep.map { p in sentence.filter { p[$0] >= 1 || rng.uniform() < Float(p[$0]) } } ?? sentence
            processedTokens += sentence.count
            let lr = options.lr * max(1e-4, 1 - Float(processedTokens) / Float(total))
            for (i, c) in kept.enumerated() {
                let span = 1 + Int(rng.next() % UInt64(options.window))
                for j in max(0, i - span)...min(kept.count - 1, i + span) where j != i {
                    rows[0] = kept[j]
                    for n in 0..<k {
                        var w = noise.sample(&rng)
                        while w == rows[0] && noise.probability(w) < 1 { w = noise.sample(&rng) }
                        rows[n + 1] = w
                    }
                    lossSum += Double(step(center: c, rows: rows, lr: lr, gradCenter: &gradCenter, gradOutputs: &gradOutputs))
                    pairs += 1
                }
            }
        }
        return (pairs == 0 ? 0 : lossSum / Double(pairs), pairs)
    }

    /// The loss of one pair at the current vectors, then the update of the
    /// centre's input row and the context and noise words' output rows (a
    /// noise word drawn twice gets the sum of its gradients, in one update).
    func step(center c: Int, rows: [Int], lr: Float, gradCenter: inout [Float], gradOutputs: inout [Float]) -> Float {
        let d = options.dim
        let loss = input.withUnsafeBufferPointer { e in
            output.withUnsafeBufferPointer { o in
                gradCenter.withUnsafeMutableBufferPointer { gc in
                    gradOutputs.withUnsafeMutableBufferPointer { go in
                        SkipGramLoss.forward(center: e.baseAddress! + c * d, outputs: rows.map { o.baseAddress! + $0 * d }, dim: d,
                                             gradCenter: gc.baseAddress!, gradOutputs: go.baseAddress!)
                    }
                }
            }
        }
        // Merge repeated rows into their first slot (the sum is the gradient of the pair's loss).
        var isFirst = [Bool](repeating: true, count: rows.count)
        for j in 1..<rows.count {
            guard let first = rows[0..<j].firstIndex(of: rows[j]) else { continue }
            isFirst[j] = false
            for t in 0..<d { gradOutputs[first * d + t] += gradOutputs[j * d + t] }
        }
        gradCenter.withUnsafeBufferPointer { g in update(&input, row: c, g, &inputStates[c], lr: lr) }
        gradOutputs.withUnsafeBufferPointer { g in
            for (j, r) in rows.enumerated() where isFirst[j] {
                update(&output, row: r, UnsafeBufferPointer(rebasing: g[(j * d)..<((j + 1) * d)]), &outputStates[r], lr: lr)
            }
        }
        return loss
    }

    func update(_ m: inout [Float], row: Int, _ g: UnsafeBufferPointer<Float>, _ state: inout ParameterState, lr: Float) {
        let d = options.dim
        state.step += 1
        m.withUnsafeMutableBufferPointer { p in
            rule.update(UnsafeMutableBufferPointer(rebasing: p[(row * d)..<((row + 1) * d)]), g, &state, lr: lr)
        }
    }

    /// Each id's probability of being kept, nil when subsampling is off.
    func keepProbabilities() -> [Double]? {
        guard options.subsample > 0 else { return nil }
        let total = Double(max(1, corpus.tokenCount)), t = options.subsample
        return corpus.counts.map { n in
            guard n > 0 else { return 1 }
            let f = Double(n) / total
            return ((f / t).squareRoot() + 1) * t / f
        }
    }
}
