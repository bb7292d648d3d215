import DLNN

/// Selection for the lifecycle. `VersionPolicy` comes from the model's
/// config.json (DLNN): `latest` serves the highest valid version, `all` every
/// valid version (unpinned requests go to the highest), `specific` exactly
/// those listed that are valid. Whatever is loaded can be pinned by a request.
extension VersionPolicy {
    /// The versions to load among the valid candidates.
    public func select(from candidates: some Collection<Int>) -> Set<Int> {
        switch self {
        case .latest: return candidates.max().map { [$0] } ?? []
        case .all: return Set(candidates)
        case .specific(let list): return Set(candidates).intersection(list)
        }
    }

    /// "latest", "all" or "specific(1,3)".
    public var summary: String {
        switch self {
        case .latest: return "latest"
        case .all: return "all"
        case .specific(let v): return "specific(\(v.map(String.init).joined(separator: ",")))"
        }
    }
}
