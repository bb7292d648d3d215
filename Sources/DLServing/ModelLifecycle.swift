import DLNN

/// The load state of one model's versions, as a pure value: events go in,
/// actions come out, nothing here does I/O or reads a clock (`now` is passed
/// in, so tests drive time by hand).
///
/// The manager feeds it repository scans, explicit load/unload requests and
/// the outcomes of the loads it started, and applies the actions:
/// `load` (start loading an instance on the loader thread), `publish` (put a
/// loaded instance into the routing table, replacing an older instance of the
/// same version), `retire` (take an instance out of the routing table; its
/// memory is freed when the requests in flight let go, reported as
/// `released`), `discard` (drop a loaded instance nobody wants any more).
///
/// Rules:
/// - The policy picks the versions to serve among the *eligible* ones: present
///   in the repository, and not failed with the same files (unless
///   `retryFailedAfter` has passed). So a corrupt newest version is skipped and
///   the next-highest one serves.
/// - A new or changed version loads beside the old one; the old one is
///   retired only when no wanted version is still loading, so there is always
///   an instance serving during a reload, and the swap is one table update.
/// - A failed reload of a version that is serving keeps the old instance
///   (state `ready`, `lastError` set); a failed new version is `failed`.
/// - Unpinned requests go to the highest version with an instance.
public struct ModelLifecycle: Sendable, Equatable {
    public typealias Instant = ContinuousClock.Instant

    public enum Action: Sendable, Hashable {
        case load(version: Int, token: Int)
        case publish(version: Int, token: Int)
        case retire(version: Int, token: Int)
        case discard(version: Int, token: Int)
    }

    /// Bookkeeping for one version. Its `state` is derived from the tokens.
    public struct Version: Sendable, Equatable {
        public internal(set) var state: VersionState = .unloaded
        public internal(set) var since: Instant
        /// The instance in the routing table and the fingerprint it was loaded from.
        public internal(set) var servingToken: Int?
        var servingFingerprint: String?
        /// The load in progress.
        public internal(set) var loadingToken: Int?
        var loadingFingerprint: String?
        /// Retired instances still held by requests in flight.
        public internal(set) var retiring: Set<Int> = []
        /// The last load error (kept after a failed reload that left the old instance serving).
        public internal(set) var lastError: String?
        /// The files that failed and when; such a version is not loaded again
        /// until its fingerprint changes or `retryFailedAfter` passes.
        var failedFingerprint: String?
        var failedAt: Instant?

        init(since: Instant) { self.since = since }
    }

    public private(set) var versions: [Int: Version] = [:]
    /// Versions present in the repository at the last scan, with fingerprints.
    public private(set) var available: [Int: String] = [:]
    public private(set) var policy: VersionPolicy
    /// False after `unloadRequested` until `loadRequested`.
    public private(set) var enabled = true
    public let retryFailedAfter: Duration
    private var nextToken = 1

    public init(policy: VersionPolicy = .latest, retryFailedAfter: Duration = .seconds(300)) {
        self.policy = policy
        self.retryFailedAfter = retryFailedAfter
    }

    // MARK: Queries

    /// The version unpinned requests go to: the highest with an instance.
    public var defaultVersion: Int? {
        versions.filter { $0.value.servingToken != nil }.keys.max()
    }

    /// No load in progress.
    public var isSettled: Bool { versions.values.allSatisfy { $0.loadingToken == nil } }

    /// The versions the policy wants now.
    public func desired(now: Instant) -> Set<Int> {
        guard enabled else { return [] }
        let eligible = available.keys.filter { v in versions[v]?.servingToken != nil || !isBlocked(v, now: now) }
        return policy.select(from: eligible)
    }

    /// Failed with these very files, and not yet time to retry.
    func isBlocked(_ v: Int, now: Instant) -> Bool {
        guard let e = versions[v], let fp = e.failedFingerprint, let at = e.failedAt else { return false }
        return fp == available[v] && now - at < retryFailedAfter
    }

    // MARK: Events

    /// A repository scan found these versions (version -> fingerprint) and this policy.
    public mutating func scanned(available: [Int: String], policy: VersionPolicy, now: Instant) -> [Action] {
        self.available = available
        self.policy = policy
        return reconcile(now: now, forceReload: false)
    }

    /// An explicit load: enable the model, forget past failures and load every
    /// wanted version afresh (beside the instances serving now).
    public mutating func loadRequested(available: [Int: String], policy: VersionPolicy, now: Instant) -> [Action] {
        self.available = available
        self.policy = policy
        enabled = true
        for v in versions.keys {
            versions[v]!.failedAt = nil
            versions[v]!.failedFingerprint = nil
        }
        return reconcile(now: now, forceReload: true)
    }

    /// An explicit unload: retire every instance, abandon loads in progress
    /// (their results will be discarded), and stay unloaded until `loadRequested`.
    public mutating func unloadRequested(now: Instant) -> [Action] {
        enabled = false
        for v in versions.keys {
            versions[v]!.loadingToken = nil
            versions[v]!.loadingFingerprint = nil
            versions[v]!.failedAt = nil
            versions[v]!.failedFingerprint = nil
            refresh(v, now: now)
        }
        return reconcile(now: now, forceReload: false)
    }

    /// Instance `token` of `version` loaded and warmed up.
    public mutating func loadSucceeded(version v: Int, token: Int, now: Instant) -> [Action] {
        guard var e = versions[v], e.loadingToken == token else { return [.discard(version: v, token: token)] }
        e.loadingToken = nil
        let fingerprint = e.loadingFingerprint
        e.loadingFingerprint = nil
        e.lastError = nil
        e.failedAt = nil
        e.failedFingerprint = nil
        versions[v] = e
        guard desired(now: now).contains(v) || (available[v] != nil && defaultVersion == nil && enabled) else {
            refresh(v, now: now)
            return [.discard(version: v, token: token)] + reconcile(now: now, forceReload: false)
        }
        if let old = e.servingToken { e.retiring.insert(old) }
        e.servingToken = token
        e.servingFingerprint = fingerprint
        versions[v] = e
        refresh(v, now: now)
        return [.publish(version: v, token: token)] + reconcile(now: now, forceReload: false)
    }

    /// Loading instance `token` of `version` failed with `message`.
    public mutating func loadFailed(version v: Int, token: Int, message: String, now: Instant) -> [Action] {
        guard var e = versions[v], e.loadingToken == token else { return [] }
        e.loadingToken = nil
        e.lastError = message
        e.failedAt = now
        e.failedFingerprint = e.loadingFingerprint
        e.loadingFingerprint = nil
        versions[v] = e
        refresh(v, now: now)
        return reconcile(now: now, forceReload: false)
    }

    /// A retired or replaced instance was freed (the last request let go).
    public mutating func released(version v: Int, token: Int, now: Instant) {
        guard versions[v] != nil else { return }
        versions[v]!.retiring.remove(token)
        refresh(v, now: now)
        prune()
    }

    // MARK: Reconciliation

    mutating func reconcile(now: Instant, forceReload: Bool) -> [Action] {
        let wanted = desired(now: now)
        var actions: [Action] = []
        for v in wanted.sorted(by: >) {
            var e = versions[v] ?? Version(since: now)
            let fingerprint = available[v]!
            let stale = e.servingFingerprint != fingerprint && !isBlocked(v, now: now)
            if e.loadingToken == nil && (e.servingToken == nil || stale || forceReload) {
                e.loadingToken = nextToken
                e.loadingFingerprint = fingerprint
                actions.append(.load(version: v, token: nextToken))
                nextToken += 1
            }
            versions[v] = e
            refresh(v, now: now)
        }
        // Retire what is no longer wanted once nothing wanted is still loading.
        let settling = wanted.contains { versions[$0]?.loadingToken != nil }
        if !settling {
            for v in versions.keys.sorted() where !wanted.contains(v) {
                guard let t = versions[v]!.servingToken else { continue }
                versions[v]!.servingToken = nil
                versions[v]!.servingFingerprint = nil
                versions[v]!.retiring.insert(t)
                refresh(v, now: now)
                actions.append(.retire(version: v, token: t))
            }
        }
        prune()
        return actions
    }

    /// Re-derives the state of `v` and stamps `since` when it changed.
    mutating func refresh(_ v: Int, now: Instant) {
        guard var e = versions[v] else { return }
        let state: VersionState
        if e.loadingToken != nil { state = .loading }
        else if e.servingToken != nil { state = .ready }
        else if !e.retiring.isEmpty { state = .unloading }
        else if e.failedAt != nil, let m = e.lastError { state = .failed(m) }
        else { state = .unloaded }
        if state != e.state {
            e.state = state
            e.since = now
        }
        versions[v] = e
    }

    /// Forgets unloaded versions that are gone from the repository.
    mutating func prune() {
        for (v, e) in versions where e.state == .unloaded && available[v] == nil && e.loadingToken == nil {
            versions[v] = nil
        }
    }
}
