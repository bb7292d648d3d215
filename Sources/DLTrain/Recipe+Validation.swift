import DLNN
import Foundation

/// Bounds on what one recipe may ask for (the job queue's per-job limits).
public struct RecipeLimits: Sendable {
    public var maxEpochs: Int
    /// Training images after `dataset.limit` (before the dev split).
    public var maxTrainImages: Int
    public var maxBatchSize: Int
    public var maxParameters: Int
    public var maxLayers: Int

    public init(maxEpochs: Int = 200, maxTrainImages: Int = 1_000_000, maxBatchSize: Int = 4096,
                maxParameters: Int = 50_000_000, maxLayers: Int = 500) {
        self.maxEpochs = maxEpochs
        self.maxTrainImages = maxTrainImages
        self.maxBatchSize = maxBatchSize
        self.maxParameters = maxParameters
        self.maxLayers = maxLayers
    }

    public static let `default` = RecipeLimits()
}

extension Recipe {
    /// Checks every field that needs no file or dataset. Throws
    /// `TrainingError.invalidRecipe` naming the first bad field.
    public func validate(limits: RecipeLimits = .default) throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        let nameChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), !name.hasPrefix("."), name.unicodeScalars.allSatisfy(nameChars.contains) else {
            throw fail("name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'")
        }
        guard !dataset.name.isEmpty else { throw fail("dataset.name must not be empty") }
        guard dataset.devFraction >= 0 && dataset.devFraction <= 0.5 else {
            throw fail("dataset.dev_fraction must be between 0 and 0.5, got \(dataset.devFraction)")
        }
        if let l = dataset.limit {
            guard l >= 2 else { throw fail("dataset.limit must be at least 2, got \(l)") }
            guard l <= limits.maxTrainImages else { throw fail("dataset.limit \(l) exceeds the maximum of \(limits.maxTrainImages) images") }
        }
        if let l = dataset.testLimit, l < 1 { throw fail("dataset.test_limit must be at least 1, got \(l)") }

        try validateModel(limits: limits)
        try validateOptimizer()

        guard epochs >= 1 else { throw fail("epochs must be at least 1, got \(epochs)") }
        guard epochs <= limits.maxEpochs else { throw fail("epochs \(epochs) exceeds the maximum of \(limits.maxEpochs)") }
        guard batchSize >= 1 else { throw fail("batch_size must be at least 1, got \(batchSize)") }
        guard batchSize <= limits.maxBatchSize else { throw fail("batch_size \(batchSize) exceeds the maximum of \(limits.maxBatchSize)") }
        guard l2 >= 0, l2.isFinite else { throw fail("l2 must be >= 0, got \(l2)") }
        if let e = earlyStopping {
            guard e.patience >= 1 else { throw fail("early_stopping.patience must be at least 1, got \(e.patience)") }
            if let d = e.minDelta, !(d >= 0 && d.isFinite) { throw fail("early_stopping.min_delta must be >= 0, got \(d)") }
            guard dataset.devFraction > 0 else { throw fail("early_stopping needs a dev set: set dataset.dev_fraction > 0") }
        }
        if let a = augmentation {
            guard (0...16).contains(a.cropPadding) else { throw fail("augmentation.crop_padding must be between 0 and 16, got \(a.cropPadding)") }
            guard a.brightness >= 0 && a.brightness <= 1 else { throw fail("augmentation.brightness must be between 0 and 1, got \(a.brightness)") }
            guard a.contrast >= 0 && a.contrast <= 1 else { throw fail("augmentation.contrast must be between 0 and 1, got \(a.contrast)") }
        }
        if let l = labels {
            guard !l.isEmpty, l.allSatisfy({ !$0.isEmpty }) else { throw fail("labels must be non-empty names") }
            guard Set(l).count == l.count else { throw fail("labels must be distinct") }
        }
    }

    func validateModel(limits: RecipeLimits) throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        let given = [model.preset != nil, model.architecture != nil, model.base != nil].filter { $0 }.count
        guard given == 1 else { throw fail("model must have exactly one of 'preset', 'architecture' or 'base'") }
        if let p = model.preset {
            guard ModelPreset(rawValue: p) != nil else {
                throw fail("model.preset: unknown preset '\(p)' (known: \(ModelPreset.names.joined(separator: ", ")))")
            }
        } else if model.width != nil || model.keepProb != nil {
            throw fail("model.width and model.keep_prob apply to presets only")
        }
        if let w = model.width, !(1...1024).contains(w) { throw fail("model.width must be between 1 and 1024, got \(w)") }
        if let k = model.keepProb, !(k > 0 && k <= 1) { throw fail("model.keep_prob must be in (0, 1], got \(k)") }
        if let b = model.base {
            guard !b.isEmpty else { throw fail("model.base must not be empty") }
            if let v = model.version, v < 1 { throw fail("model.version must be at least 1, got \(v)") }
        } else if model.version != nil {
            throw fail("model.version applies to a base model only")
        }
        if let a = model.architecture {
            guard a.layers.count <= limits.maxLayers else {
                throw fail("model.architecture has \(a.layers.count) layers, more than the maximum of \(limits.maxLayers)")
            }
            let known = Set(LayerRegistry.knownTypes)
            for (i, l) in a.layers.enumerated() where !known.contains(l.type) {
                throw fail("model.architecture.layers[\(i)].type: unknown layer '\(l.type)' (known: \(LayerRegistry.knownTypes.joined(separator: ", ")))")
            }
        }
    }

    func validateOptimizer() throws {
        func fail(_ m: String) -> TrainingError { .invalidRecipe(m) }
        let o = optimizer
        let names = ["sgd", "momentum", "rmsprop", "adam"]
        guard names.contains(o.name) else {
            throw fail("optimizer.name: unknown optimizer '\(o.name)' (expected one of \(names.joined(separator: ", ")))")
        }
        guard o.lr > 0, o.lr.isFinite else { throw fail("optimizer.lr must be > 0, got \(o.lr)") }
        guard o.lr <= 10 else { throw fail("optimizer.lr must be at most 10, got \(o.lr)") }
        if let b = o.betas {
            guard b.count == 2, b.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
                throw fail("optimizer.betas must be two numbers in [0, 1), got \(b)")
            }
            guard o.name == "adam" else { throw fail("optimizer.betas applies to adam only") }
        }
        if let m = o.momentum {
            guard m >= 0 && m < 1 else { throw fail("optimizer.momentum must be in [0, 1), got \(m)") }
            guard o.name == "momentum" else { throw fail("optimizer.momentum applies to the 'momentum' optimizer only") }
        }
        if o.nesterov != nil && o.name != "momentum" { throw fail("optimizer.nesterov applies to the 'momentum' optimizer only") }
        if let a = o.alpha {
            guard a >= 0 && a < 1 else { throw fail("optimizer.alpha must be in [0, 1), got \(a)") }
            guard o.name == "rmsprop" else { throw fail("optimizer.alpha applies to rmsprop only") }
        }
        if let e = o.eps { guard e > 0 && e < 1 else { throw fail("optimizer.eps must be in (0, 1), got \(e)") } }
        if let c = o.clipNorm { guard c > 0, c.isFinite else { throw fail("optimizer.clip_norm must be > 0, got \(c)") } }
        _ = try schedule()
    }

    /// The update rule the optimizer section names.
    public func updateRule() -> UpdateRule {
        let o = optimizer
        switch o.name {
        case "sgd": return SGD()
        case "momentum": return Momentum(momentum: o.momentum ?? Momentum.Defaults.momentum, nesterov: o.nesterov ?? false)
        case "rmsprop": return RMSprop(alpha: o.alpha ?? RMSprop.Defaults.alpha, eps: o.eps ?? RMSprop.Defaults.eps)
        default:
            return Adam(beta1: o.betas?[0] ?? Adam.Defaults.beta1, beta2: o.betas?[1] ?? Adam.Defaults.beta2,
                        eps: o.eps ?? Adam.Defaults.eps)
        }
    }

    /// The learning-rate schedule the optimizer section names.
    public func schedule() throws -> LearningRateSchedule {
        guard let s = optimizer.schedule else { return .constant }
        func fail(_ m: String) -> TrainingError { .invalidRecipe("optimizer.schedule.\(m)") }
        func need<T>(_ v: T?, _ key: String) throws -> T {
            guard let v else { throw fail("\(key) is required for a '\(s.type)' schedule") }
            return v
        }
        switch s.type {
        case "constant":
            return .constant
        case "inverse_time":
            let d = try need(s.decayRate, "decay_rate")
            guard d >= 0, d.isFinite else { throw fail("decay_rate must be >= 0, got \(d)") }
            return .inverseTime(decayRate: d)
        case "exponential":
            let r = try need(s.rate, "rate")
            guard r > 0 && r <= 1 else { throw fail("rate must be in (0, 1], got \(r)") }
            return .exponential(rate: r)
        case "step":
            let n = try need(s.stepSize, "step_size"), g = try need(s.gamma, "gamma")
            guard n >= 1 else { throw fail("step_size must be at least 1, got \(n)") }
            guard g > 0 && g <= 1 else { throw fail("gamma must be in (0, 1], got \(g)") }
            return .step(stepSize: n, gamma: g)
        case "cosine":
            return .cosine(epochs: epochs)
        default:
            throw fail("type: unknown schedule '\(s.type)' (expected constant, inverse_time, exponential, step or cosine)")
        }
    }
}
