import DLKernels
import DLNN
import DLTensor
import Foundation

/// Trains an embedding on batches of P people x K photos: the triplet loss
/// on triplets mined inside each batch (`minedTripletLoss`), or the siamese
/// pair classifier (`pairClassifierLoss`) on every matched pair of the batch
/// and as many mismatched ones. Photos are flipped and shifted on the fly.
/// Adam with a linear warm-up and cosine decay per update, gradient clipping.
/// After each epoch the held-out pairs are scored and tau chosen on them.
public final class FaceTrainer {
    public struct Options: Sendable {
        public var epochs: Int
        public var stepsPerEpoch: Int
        public var identities: Int
        public var images: Int
        public var objective: FaceRecipe.Objective
        public var augmentation: FaceRecipe.Augmentation
        public var learningRate: Float
        public var warmupSteps: Int
        public var clipNorm: Float?
        public var seed: UInt64
        /// Embed dev photos as the mean with their mirror images (`VerificationFile.flipAverage`).
        public var flipAverage: Bool
        /// Shifted views of each dev photo (`VerificationFile.viewShifts`), and whether their mean is rescaled to unit length.
        public var viewShifts: [[Int]]?
        public var normalizeMean: Bool = true

        public init(epochs: Int, stepsPerEpoch: Int, identities: Int = 16, images: Int = 4, objective: FaceRecipe.Objective = .init(),
                    augmentation: FaceRecipe.Augmentation = .init(), learningRate: Float = 1e-3, warmupSteps: Int = 100,
                    clipNorm: Float? = 10, seed: UInt64 = 1, flipAverage: Bool = false) {
            self.flipAverage = flipAverage
            (self.epochs, self.stepsPerEpoch, self.identities, self.images) = (epochs, stepsPerEpoch, identities, images)
            (self.objective, self.augmentation, self.learningRate) = (objective, augmentation, learningRate)
            (self.warmupSteps, self.clipNorm, self.seed) = (warmupSteps, clipNorm, seed)
        }
    }

    /// One epoch's figures.
    public struct Epoch: Sendable, Codable, Equatable {
        public var epoch: Int
        public var loss: Double
        /// Mean share of mined triplets (or pairs) with a non-zero loss.
        public var active: Double
        public var seconds: Double
        public var imagesPerSecond: Double
        /// Best-threshold accuracy, its tau and the AUC on the dev pairs (nil without them).
        public var devAccuracy: Double?
        public var devTau: Double?
        public var devAUC: Double?
        public var learningRate: Float?

        enum CodingKeys: String, CodingKey {
            case epoch, loss, active, seconds
            case imagesPerSecond = "images_per_second", devAccuracy = "dev_accuracy", devTau = "dev_tau", devAUC = "dev_auc"
            case learningRate = "learning_rate"
        }
    }

    public let model: GraphModel
    public let options: Options
    public let optimizer: Optimizer
    public let train: FaceSet
    /// The training photos of each person (indices into `train`).
    let photosByIdentity: [[Int]]
    /// The siamese head (weight [D], bias []); nil for the triplet loss.
    public let pairHead: (weight: Tensor, bias: Tensor)?
    /// Held-out photos and pairs of them, scored after every epoch.
    public var dev: (set: FaceSet, pairs: [(Int, Int)], same: [Bool])?
    public private(set) var history: [Epoch] = []
    public var epochsCompleted: Int { history.count }
    public var onEpoch: ((Epoch) -> Void)?
    public var onProgress: ((DetectionTrainer.Progress) -> Void)?
    public var epochFinished: ((FaceCheckpoint) throws -> Void)?
    public var isCancelled: () -> Bool = { false }

    public static let pairWeightName = "pair.weight", pairBiasName = "pair.bias"

    public init(model: GraphModel, train: FaceSet, options: Options) {
        precondition(train.names.count >= 2 && options.identities >= 2 && options.images >= 1, "FaceTrainer: needs 2 people per batch")
        self.model = model
        self.train = train
        photosByIdentity = train.photosByIdentity
        self.options = options
        if options.objective.loss == .siamese {
            let d = model.outputShape.product
            pairHead = (Tensor(shape: [d], data: [Float](repeating: -1 / Float(d).squareRoot(), count: d), requiresGrad: true),
                        Tensor(shape: [1], data: [1], requiresGrad: true))
        } else {
            pairHead = nil
        }
        optimizer = Optimizer(rule: Adam(), learningRate: options.learningRate, clipNorm: options.clipNorm)
    }

    var parameters: [(name: String, tensor: Tensor)] {
        model.namedParameters + (pairHead.map { [(Self.pairWeightName, $0.weight), (Self.pairBiasName, $0.bias)] } ?? [])
    }

    var totalSteps: Int { options.epochs * options.stepsPerEpoch }

    /// Linear warm-up over `warmupSteps`, then cosine decay to 0 at the last update.
    func learningRate(step: Int) -> Float {
        WarmupCosine(warmupSteps: options.warmupSteps, totalSteps: totalSteps).learningRate(options.learningRate, step: step)
    }

    /// P people (without replacement) x K photos each (without replacement
    /// while the person has enough): photo indices and their labels.
    func sample(rng: inout SeededGenerator) -> (photos: [Int], labels: [Int]) {
        let byPerson = photosByIdentity
        let people = Array(byPerson.indices.shuffled(using: &rng).prefix(options.identities))
        var photos: [Int] = [], labels: [Int] = []
        for p in people {
            let own = byPerson[p]
            let chosen = own.count >= options.images ? Array(own.shuffled(using: &rng).prefix(options.images))
                : (0..<options.images).map { _ in own.randomElement(using: &rng)! }
            photos += chosen
            labels += Array(repeating: p, count: chosen.count)
        }
        return (photos, labels)
    }

    /// The photos as a batch, each flipped, shifted and (when the recipe
    /// asks) rotated and partly erased at random. Pixels are resampled
    /// bilinearly from the source with edges replicated; erased rectangles
    /// take the value 0 (the normalised mid-grey).
    func augmentedBatch(_ photos: [Int], rng: inout SeededGenerator) -> Tensor {
        let x = train.batch(photos)
        let (c, h, w) = (train.shape[0], train.shape[1], train.shape[2])
        var out = x.data
        let a = options.augmentation, s = a.shift
        for i in photos.indices {
            let flip = Double.random(in: 0..<1, using: &rng) < a.flip
            let dx = s > 0 ? Int.random(in: -s...s, using: &rng) : 0, dy = s > 0 ? Int.random(in: -s...s, using: &rng) : 0
            let angle = a.rotate > 0 ? Double.random(in: -a.rotate...a.rotate, using: &rng) * Double.pi / 180 : 0
            let (cosA, sinA) = (Float(cos(angle)), Float(sin(angle)))
            let (cx, cy) = (Float(w - 1) / 2, Float(h - 1) / 2)
            if flip || dx != 0 || dy != 0 || angle != 0 {
                for ch in 0..<c {
                    let base = (i * c + ch) * h * w
                    for y in 0..<h {
                        for xx in 0..<w {
                            // Output (xx, y) <- source: mirror the column, undo the shift, then the rotation about the centre.
                            let fx = flip ? w - 1 - xx : xx
                            let ux = Float(fx - dx) - cx, uy = Float(y - dy) - cy
                            let sx = cosA * ux + sinA * uy + cx
                            let sy = -sinA * ux + cosA * uy + cy
                            out[base + y * w + xx] = Self.bilinear(x.data, base: base, w: w, h: h, x: sx, y: sy)
                        }
                    }
                }
            }
            if a.erase > 0, Double.random(in: 0..<1, using: &rng) < a.erase {
                let area = Double.random(in: 0.10...0.25, using: &rng) * Double(w * h)
                let aspect = exp(Double.random(in: log(0.5)...log(2.0), using: &rng))
                let ew = min(w, max(1, Int((area * aspect).squareRoot()))), eh = min(h, max(1, Int((area / aspect).squareRoot())))
                let x0 = Int.random(in: 0...(w - ew), using: &rng), y0 = Int.random(in: 0...(h - eh), using: &rng)
                for ch in 0..<c { for y in y0..<(y0 + eh) { for xx in x0..<(x0 + ew) { out[(i * c + ch) * h * w + y * w + xx] = 0 } } }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// Bilinear sample of plane `base` [h, w] at (x, y), coordinates clamped to the edges.
    static func bilinear(_ p: [Float], base: Int, w: Int, h: Int, x: Float, y: Float) -> Float {
        let xc = min(max(x, 0), Float(w - 1)), yc = min(max(y, 0), Float(h - 1))
        let x0 = Int(xc), y0 = Int(yc), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
        let fx = xc - Float(x0), fy = yc - Float(y0)
        let top = p[base + y0 * w + x0] * (1 - fx) + p[base + y0 * w + x1] * fx
        let bottom = p[base + y1 * w + x0] * (1 - fx) + p[base + y1 * w + x1] * fx
        return top * (1 - fy) + bottom * fy
    }

    /// The loss of one batch and the share of its triplets (pairs) that count.
    func loss(_ embeddings: Tensor, labels: [Int], rng: inout SeededGenerator) -> (Tensor, Double) {
        guard let head = pairHead else {
            let (loss, t) = minedTripletLoss(embeddings: embeddings, labels: labels, alpha: options.objective.alpha,
                                             mining: options.objective.mining)
            return (loss, t.count == 0 ? 0 : Double(t.active(in: embeddings, alpha: options.objective.alpha)) / Double(t.count))
        }
        var a: [Int] = [], b: [Int] = [], same: [Float] = []
        for i in labels.indices { for j in (i + 1)..<labels.count where labels[i] == labels[j] { a.append(i); b.append(j); same.append(1) } }
        let matched = a.count
        while a.count < 2 * matched {
            let i = Int.random(in: 0..<labels.count, using: &rng), j = Int.random(in: 0..<labels.count, using: &rng)
            if labels[i] != labels[j] { a.append(i); b.append(j); same.append(0) }
        }
        func rows(_ ids: [Int]) -> Tensor { Tensor.embedding(Tensor(shape: [ids.count], data: ids.map(Float.init)), weight: embeddings) }
        let (ea, eb) = (rows(a), rows(b))
        let logits = pairClassifierLogits(ea, eb, weight: head.weight, bias: head.bias)
        let wrong = zip(logits.data, same).filter { ($0 > 0) != ($1 == 1) }.count
        return (pairClassifierLoss(ea, eb, weight: head.weight, bias: head.bias, same: same), Double(wrong) / Double(max(same.count, 1)))
    }

    public func checkpoint() -> FaceCheckpoint {
        FaceCheckpoint(epochsCompleted: epochsCompleted, seed: options.seed,
                       weights: Dictionary(uniqueKeysWithValues: (model.stateDict + (pairHead.map {
                           [(Self.pairWeightName, $0.weight), (Self.pairBiasName, $0.bias)] } ?? []))
                           .map { ($0.name, Tensor(shape: $0.tensor.shape, data: $0.tensor.data)) }),
                       optimizer: optimizer.state, history: history)
    }

    /// Continues after the checkpoint's epoch (same seed).
    public func resume(from c: FaceCheckpoint) throws {
        guard c.seed == options.seed else { throw TrainingError.checkpoint("seed \(c.seed) differs from the recipe's \(options.seed)") }
        guard c.epochsCompleted == c.history.count, c.epochsCompleted <= options.epochs else {
            throw TrainingError.checkpoint("\(c.epochsCompleted) epochs completed, \(c.history.count) in the history, \(options.epochs) planned")
        }
        var weights = c.weights
        if let head = pairHead {
            for (name, t) in [(Self.pairWeightName, head.weight), (Self.pairBiasName, head.bias)] {
                guard let saved = weights.removeValue(forKey: name), saved.shape == t.shape else {
                    throw TrainingError.checkpoint("the checkpoint has no siamese head '\(name)' \(t.shape)")
                }
                t.data = saved.data
            }
        }
        do { try model.loadStateDict(weights) } catch let e as ModelError { throw TrainingError.checkpoint("\(e)") }
        try optimizer.load(c.optimizer)
        history = c.history
    }

    /// Trains the remaining epochs; returns the whole history.
    @discardableResult
    public func fit() throws -> [Epoch] {
        while history.count < options.epochs {
            history.append(try trainEpoch(history.count))
            onEpoch?(history.last!)
            try epochFinished?(checkpoint())
        }
        return history
    }

    func trainEpoch(_ epoch: Int) throws -> Epoch {
        let start = Date()
        var lossSum = 0.0, activeSum = 0.0, seen = 0
        for step in 0..<options.stepsPerEpoch {
            if isCancelled() { throw TrainingError.cancelled }
            var rng = SeededGenerator(seed: SeedStream.derive(options.seed, .shuffle, epoch: epoch, batch: step))
            let (photos, labels) = sample(rng: &rng)
            let x = augmentedBatch(photos, rng: &rng)
            optimizer.learningRate = learningRate(step: epoch * options.stepsPerEpoch + step + 1)
            let ctx = ForwardContext(training: true, seed: SeedStream.derive(options.seed, .dropout, epoch: epoch, batch: step))
            let e = model(x, ctx).flattenedBatch()
            let (loss, active) = self.loss(e, labels: labels, rng: &rng)
            guard loss.scalar.isFinite else { throw TrainingError.diverged(epoch: epoch, batch: step, loss: loss.scalar) }
            loss.backward()
            optimizer.step(parameters)
            lossSum += Double(loss.scalar); activeSum += active; seen += photos.count
            onProgress?(.init(epoch: epoch + 1, batch: step + 1, batches: options.stepsPerEpoch, loss: Double(loss.scalar),
                              learningRate: optimizer.learningRate,
                              imagesPerSecond: Double(seen) / max(Date().timeIntervalSince(start), 1e-9)))
        }
        let seconds = Date().timeIntervalSince(start), n = Double(max(options.stepsPerEpoch, 1))
        var out = Epoch(epoch: epoch + 1, loss: lossSum / n, active: activeSum / n, seconds: seconds,
                        imagesPerSecond: Double(seen) / max(seconds, 1e-9), learningRate: optimizer.learningRate)
        if let score = devScore() {
            (out.devAccuracy, out.devTau, out.devAUC) = (score.accuracy, score.tau, score.auc)
        }
        return out
    }

    /// The verification file of the model as trained so far (tau from the dev pairs when there are any).
    public func verificationFile(tau: Double) -> VerificationFile {
        let d = model.outputShape.product
        guard let head = pairHead else {
            return VerificationFile(dim: d, metric: .squaredEuclidean, tau: tau, flipAverage: options.flipAverage,
                                    viewShifts: options.viewShifts, normalizeMean: options.normalizeMean)
        }
        return VerificationFile(dim: d, metric: .pairClassifier, tau: tau, weights: head.weight.data, bias: head.bias.data[0],
                                flipAverage: options.flipAverage, viewShifts: options.viewShifts, normalizeMean: options.normalizeMean)
    }

    /// Best-threshold accuracy, tau and AUC on the dev pairs.
    public func devScore() -> (accuracy: Double, tau: Double, auc: Double)? {
        guard let dev, !dev.pairs.isEmpty else { return nil }
        let distances = FaceEmbedder(model: model, verification: verificationFile(tau: 0)).distances(dev.set, pairs: dev.pairs)
        let best = Verification.bestThreshold(distances: distances, same: dev.same)
        return (best.accuracy, best.tau, ROCCurve(distances: distances, same: dev.same).auc)
    }
}

/// Embeds preprocessed photos with a model in inference mode and compares
/// them with a verification file's metric.
public struct FaceEmbedder {
    public let model: GraphModel
    public let verification: VerificationFile

    public init(model: GraphModel, verification: VerificationFile) { (self.model, self.verification) = (model, verification) }

    /// Embeddings of every photo of the set, [count * D] row-major.
    public func embed(_ set: FaceSet, batchSize: Int = 128) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(set.count * verification.dim)
        for first in stride(from: 0, to: set.count, by: batchSize) {
            out += verification.embed(set.batch(Array(first..<min(first + batchSize, set.count)))) { model.infer($0) }.flatMap { $0 }
        }
        return out
    }

    /// The distance of each pair of photo indices.
    public func distances(_ set: FaceSet, pairs: [(Int, Int)]) -> [Double] {
        let e = embed(set), d = verification.dim
        return e.withUnsafeBufferPointer { p in
            pairs.map { Double(verification.distance(p.baseAddress! + $0.0 * d, p.baseAddress! + $0.1 * d)) }
        }
    }
}
