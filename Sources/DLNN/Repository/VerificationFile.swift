import DLKernels
import DLTensor
import Foundation

/// `verification.json` of an embedding model's version: how two embeddings
/// are compared and where "same person" ends.
///
///     {"dim": 128, "metric": "squared_euclidean", "tau": 0.92, "flip_average": true}
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

    public init(dim: Int, metric: Metric = .squaredEuclidean, tau: Double, weights: [Float]? = nil, bias: Float? = nil,
                flipAverage: Bool = false) {
        (self.dim, self.metric, self.tau, self.weights, self.bias, self.flipAverage) = (dim, metric, tau, weights, bias, flipAverage)
    }

    enum CodingKeys: String, CodingKey { case dim, metric, tau, weights, bias, flipAverage = "flip_average" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dim = try c.decode(Int.self, forKey: .dim)
        metric = try c.decode(Metric.self, forKey: .metric)
        tau = try c.decode(Double.self, forKey: .tau)
        weights = try c.decodeIfPresent([Float].self, forKey: .weights)
        bias = try c.decodeIfPresent(Float.self, forKey: .bias)
        flipAverage = try c.decodeIfPresent(Bool.self, forKey: .flipAverage) ?? false
    }

    /// Embeddings of a batch of preprocessed photos x [N, C, H, W] through
    /// `run` (the model), one [dim] vector per photo, with `flipAverage`
    /// applied (one batch of 2N: the photos, then their mirror images).
    public func embed(_ x: Tensor, run: (Tensor) throws -> Tensor) rethrows -> [[Float]] {
        combine(try run(flipAverage ? Self.withMirrors(x) : x).data, photos: x.shape[0])
    }

    /// `embed` for a model run asynchronously (the daemon's scheduler).
    public func embed(_ x: Tensor, run: (Tensor) async throws -> Tensor) async rethrows -> [[Float]] {
        combine(try await run(flipAverage ? Self.withMirrors(x) : x).data, photos: x.shape[0])
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

    /// Rows of the model's output [N or 2N, dim] as vectors, each photo's mean with its mirror's when flipping.
    func combine(_ out: [Float], photos n: Int) -> [[Float]] {
        let d = dim
        return (0..<n).map { i in
            let v = Array(out[(i * d)..<((i + 1) * d)])
            return flipAverage ? mean([v, Array(out[((n + i) * d)..<((n + i + 1) * d)])]) : v
        }
    }

    /// The mean of embeddings, scaled back to unit length for the squared
    /// Euclidean metric (its embeddings are unit vectors): a photo with its
    /// mirror image, or a gallery person's template from their photos.
    public func mean(_ embeddings: [[Float]]) -> [Float] {
        var m = [Float](repeating: 0, count: dim)
        for e in embeddings { for j in 0..<dim { m[j] += e[j] / Float(embeddings.count) } }
        guard metric == .squaredEuclidean else { return m }
        let norm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? m.map { $0 / norm } : m
    }

    /// What is wrong with the file, if anything.
    public var problem: String? {
        guard dim > 0 else { return "dim must be > 0 (got \(dim))" }
        guard tau.isFinite else { return "tau must be a finite number" }
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
