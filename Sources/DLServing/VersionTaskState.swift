import Foundation

/// Objects a task keeps with one loaded version (a decoding scheduler, a
/// cache built from the weights), made on first use and freed with the
/// version: a hot reload of the same version number gets fresh ones, and a
/// request pinned to the old version keeps using the old ones.
final class VersionTaskState: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: any Sendable] = [:]

    /// The value under `key`, made by `make` the first time (once, even
    /// when asked from several threads at once).
    func value<T: Sendable>(_ key: String, _ make: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        if let v = values[key] as? T { return v }
        let v = try make()
        values[key] = v
        return v
    }
}

extension ModelRunner {
    /// An object kept with the pinned version, made on first use (see
    /// `VersionTaskState`). `key` names it within the version; tasks prefix it
    /// with their route.
    public func versionState<T: Sendable>(_ key: String, _ make: () throws -> T) rethrows -> T {
        try instance.state.value(key, make)
    }
}
