import DLKernels
import DLTensor
import Foundation

/// `verification.json` of an embedding model's version: how two embeddings
/// are compared and where "same person" ends.
///
///     {"dim": 128, "metric": "squared_euclidean", "tau": 0.92, "flip_average": true}
///     {"dim": 128, "metric": "squared_euclidean", "tau": 0.71, "flip_average": true,
///      "view_shifts": [[0, 0], [2, 0], [-2, 0], [0, 2], [0, -2]], "normalize_mean": false}
///     {"dim": 128, "metric": "pair_classifier", "tau": 0, "weights": [...], "bias": 3.1}
///
/// `squared_euclidean`: |a - b|^2 (in [0, 4] for unit vectors; FaceNet's).
/// `pair_classifier`: the course's siamese alternative, a logistic regression
/// on |a - b| read as a distance, -(sum_k w_k |a_k - b_k| + bias), so that
/// "same" (logit > 0) is distance < 0 and tau 0 is the classifier's own
/// boundary. Two photos show one person when distance < tau. With
/// `flip_average`, a photo's embedding is the mean of the model's outputs
/// for the photo and its mirror image (scaled back to unit length for the
/// squared Euclidean metric): test-time augmentation, as face verifiers
/// commonly do; `embed` applies it wherever photos are embedded.
/// `view_shifts` adds shifted views: each [dx, dy] moves the preprocessed
/// photo by whole pixels (content to the right and down for positive values,
/// edges replicated), and with `flip_average` each shifted view is mirrored
/// too; the embedding is the mean over all views. `normalize_mean: false`
/// keeps that mean as it is instead of scaling it back to unit length: its
/// length then says how much the views agree, and a photo whose views
/// disagree sits nearer to everyone (docs/faces.md: +0.9 points on the
/// unseen people with 10 views).
public struct VerificationFile: Codable, Equatable, Sendable {
    public enum Metric: String, Codable, Sendable, CaseIterable {
        case squaredEuclidean = "squared_euclidean"
        case pairClassifier = "pair_classifier"
    }

    public static let fileName = "verification.json"

    public var dim: Int
    public var metric: Metric
    public var tau: Double
    public var weights: [Float]?
    public var bias: Float?
    public var flipAverage: Bool
    /// Whole-pixel shifts [dx, dy] of the photo, each a view (nil: the photo alone).
    public var viewShifts: [[Int]]?
    /// Whether the mean of the views (and of a gallery person's photos) is scaled back to unit length.
    public var normalizeMean: Bool

    public init(dim: Int, metric: Metric = .squaredEuclidean, tau: Double, weights: [Float]? = nil, bias: Float? = nil,
                flipAverage: Bool = false, viewShifts: [[Int]]? = nil, normalizeMean: Bool = true) {
        (self.dim, self.metric, self.tau, self.weights, self.bias, self.flipAverage) = (dim, metric, tau, weights, bias, flipAverage)
        (self.viewShifts, self.normalizeMean) = (viewShifts, normalizeMean)
    }

    enum CodingKeys: String, CodingKey {
        case dim, metric, tau, weights, bias, flipAverage = "flip_average", viewShifts = "view_shifts", normalizeMean = "normalize_mean"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dim, forKey: .dim)
        try c.encode(metric, forKey: .metric)
        try c.encode(tau, forKey: .tau)
        try c.encodeIfPresent(weights, forKey: .weights)
        try c.encodeIfPresent(bias, forKey: .bias)
        try c.encode(flipAverage, forKey: .flipAverage)
        try c.encodeIfPresent(viewShifts, forKey: .viewShifts)
        if !normalizeMean { try c.encode(normalizeMean, forKey: .normalizeMean) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dim = try c.decode(Int.self, forKey: .dim)
        metric = try c.decode(Metric.self, forKey: .metric)
        tau = try c.decode(Double.self, forKey: .tau)
        weights = try c.decodeIfPresent([Float].self, forKey: .weights)
        bias = try c.decodeIfPresent(Float.self, forKey: .bias)
        flipAverage = try c.decodeIfPresent(Bool.self, forKey: .flipAverage) ?? false
        viewShifts = try c.decodeIfPresent([[Int]].self, forKey: .viewShifts)
        normalizeMean = try c.decodeIfPresent(Bool.self, forKey: .normalizeMean) ?? true
    }

    /// Views per photo: its shifts, each mirrored too with `flipAverage`.
    public var viewCount: Int { (viewShifts?.count ?? 1) * (flipAverage ? 2 : 1) }

    /// Embeddings of a batch of preprocessed photos x [N, C, H, W] through
    /// `run` (the model), one [dim] vector per photo: the mean over its views
    /// (one batch of viewCount x N: each shift's N photos, then their mirror images).
    public func embed(_ x: Tensor, run: (Tensor) throws -> Tensor) rethrows -> [[Float]] {
        combine(try run(views(x)).data, photos: x.shape[0])
    }

    /// `embed` for a model run asynchronously (the daemon's scheduler).
    public func embed(_ x: Tensor, run: (Tensor) async throws -> Tensor) async rethrows -> [[Float]] {
        combine(try await run(views(x)).data, photos: x.shape[0])
    }

    /// x [N, C, H, W] as the batch of its views.
    public func views(_ x: Tensor) -> Tensor {
        var shifted = x
        if let shifts = viewShifts {
            precondition(x.rank == 4, "views: photos must be [N, C, H, W], got \(x.shape)")
            shifted = Tensor.concat(shifts.map { Self.shift(x, dx: $0[0], dy: $0[1]) }, axis: 0)
        }
        return flipAverage ? Self.withMirrors(shifted) : shifted
    }

    /// x [N, C, H, W] moved by whole pixels (content right by dx, down by dy), edges replicated.
    static func shift(_ x: Tensor, dx: Int, dy: Int) -> Tensor {
        guard dx != 0 || dy != 0 else { return x }
        let h = x.shape[2], w = x.shape[3], planes = x.count / (h * w)
        var out = [Float](repeating: 0, count: x.count)
        x.data.withUnsafeBufferPointer { src in
            for p in 0..<planes {
                let base = p * h * w
                for y in 0..<h {
                    let sy = min(max(y - dy, 0), h - 1)
                    for xx in 0..<w { out[base + y * w + xx] = src[base + sy * w + min(max(xx - dx, 0), w - 1)] }
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }

    /// x [N, C, H, W] followed by its N mirror images (each row reversed).
    static func withMirrors(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "withMirrors: photos must be [N, C, H, W], got \(x.shape)")
        let w = x.shape[3], rows = x.count / w
        var out = x.data
        out.reserveCapacity(2 * x.count)
        for r in 0..<rows { out += x.data[(r * w)..<((r + 1) * w)].reversed() }
        return Tensor(shape: [2 * x.shape[0]] + Array(x.shape.dropFirst()), data: out)
    }

    /// Rows of the model's output [viewCount x N, dim] as one vector per photo, the mean of its views.
    func combine(_ out: [Float], photos n: Int) -> [[Float]] {
        let d = dim, v = viewCount
        return (0..<n).map { i in
            let rows = (0..<v).map { k in Array(out[((k * n + i) * d)..<((k * n + i + 1) * d)]) }
            return v == 1 ? rows[0] : mean(rows)
        }
    }

    /// The mean of embeddings, scaled back to unit length for the squared
    /// Euclidean metric (its embeddings are unit vectors) unless
    /// `normalizeMean` is off: a photo's views, or a gallery person's
    /// template from their photos.
    public func mean(_ embeddings: [[Float]]) -> [Float] {
        var m = [Float](repeating: 0, count: dim)
        for e in embeddings { for j in 0..<dim { m[j] += e[j] / Float(embeddings.count) } }
        guard metric == .squaredEuclidean, normalizeMean else { return m }
        let norm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? m.map { $0 / norm } : m
    }

    /// What is wrong with the file, if anything.
    public var problem: String? {
        guard dim > 0 else { return "dim must be > 0 (got \(dim))" }
        guard tau.isFinite else { return "tau must be a finite number" }
        if let shifts = viewShifts {
            guard !shifts.isEmpty, shifts.count <= 64, shifts.allSatisfy({ $0.count == 2 && $0.allSatisfy { abs($0) <= 16 } }) else {
                return "view_shifts must be 1 to 64 pairs [dx, dy] of whole pixels within 16"
            }
        }
        if metric == .pairClassifier {
            guard let w = weights, w.count == dim, w.allSatisfy(\.isFinite), let b = bias, b.isFinite else {
                return "a pair_classifier needs \(dim) finite weights and a finite bias"
            }
        }
        return nil
    }

    public static func load(_ url: URL) throws -> VerificationFile {
        let file: VerificationFile
        do { file = try JSONDecoder().decode(VerificationFile.self, from: Data(contentsOf: url)) } catch {
            throw ModelError.architecture("\(url.lastPathComponent): \(error)")
        }
        if let p = file.problem { throw ModelError.architecture("\(url.lastPathComponent): \(p)") }
        return file
    }

    /// The distance between two embeddings of `dim` values.
    public func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        switch metric {
        case .squaredEuclidean: return Kernels.squaredDistance(a, b, dim)
        case .pairClassifier:
            return weights!.withUnsafeBufferPointer { -(Kernels.weightedL1(a, b, weights: $0.baseAddress!, dim) + bias!) }
        }
    }

    public func distance(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == dim && b.count == dim, "distance: \(a.count) and \(b.count) values for dim \(dim)")
        return a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { distance(pa.baseAddress!, $0.baseAddress!) } }
    }
}
