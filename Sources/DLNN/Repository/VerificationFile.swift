import DLKernels
import Foundation

/// `verification.json` of an embedding model's version: how two embeddings
/// are compared and where "same person" ends.
///
///     {"dim": 128, "metric": "squared_euclidean", "tau": 0.92}
///     {"dim": 128, "metric": "pair_classifier", "tau": 0, "weights": [...], "bias": 3.1}
///
/// `squared_euclidean`: |a - b|^2 (in [0, 4] for unit vectors; FaceNet's).
/// `pair_classifier`: the course's siamese alternative, a logistic regression
/// on |a - b| read as a distance, -(sum_k w_k |a_k - b_k| + bias), so that
/// "same" (logit > 0) is distance < 0 and tau 0 is the classifier's own
/// boundary. Two photos show one person when distance < tau.
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

    public init(dim: Int, metric: Metric = .squaredEuclidean, tau: Double, weights: [Float]? = nil, bias: Float? = nil) {
        (self.dim, self.metric, self.tau, self.weights, self.bias) = (dim, metric, tau, weights, bias)
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
