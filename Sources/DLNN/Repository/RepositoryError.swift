/// Errors of the model repository. Each says what is wrong and where; the HTTP
/// layer maps them to status codes in one place (suggested: invalidName 400,
/// unknownModel and versionNotFound 404, the rest 503 for a model that cannot
/// serve, or 500 for io).
public enum RepositoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A model name that is not `[A-Za-z0-9][A-Za-z0-9._-]*` (at most 128 characters).
    case invalidName(String)
    /// No such model directory.
    case unknownModel(String)
    /// config.json is missing or wrong; the message names the field.
    case badConfig(model: String, message: String)
    /// No such version directory.
    case versionNotFound(model: String, version: Int)
    /// The model has no version directories (or none its version policy selects).
    case noVersions(model: String)
    /// A version exists but cannot serve: the message says why.
    case invalidVersion(model: String, version: Int, message: String)
    /// Every candidate version failed to load.
    case noValidVersion(model: String, failures: [VersionFailure])
    /// `publish` refused what the build produced.
    case invalidBuild(model: String, message: String)
    /// A file-system error.
    case io(String)

    public var description: String {
        switch self {
        case .invalidName(let n):
            return "invalid model name '\(n)': use letters, digits, '.', '_' and '-', starting with a letter or digit"
        case .unknownModel(let n): return "unknown model '\(n)'"
        case .badConfig(let m, let message): return "model '\(m)': bad config.json: \(message)"
        case .versionNotFound(let m, let v): return "model '\(m)' has no version \(v)"
        case .noVersions(let m): return "model '\(m)' has no versions to serve"
        case .invalidVersion(let m, let v, let message): return "model '\(m)' version \(v) is invalid: \(message)"
        case .noValidVersion(let m, let failures):
            return "model '\(m)' has no valid version: " + failures.map { "version \($0.version): \($0.message)" }.joined(separator: "; ")
        case .invalidBuild(let m, let message): return "model '\(m)': the new version is invalid: \(message)"
        case .io(let m): return "i/o error: \(m)"
        }
    }
}

/// Why one version could not load.
public struct VersionFailure: Equatable, Sendable {
    public var version: Int
    public var message: String

    public init(version: Int, message: String) {
        self.version = version
        self.message = message
    }
}
