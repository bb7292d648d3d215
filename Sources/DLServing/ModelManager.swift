import DLKernels
import CoreMetrics
import DLNN
import DLTensor
import Dispatch
import Foundation
import Logging

/// The registry of served models. Per model it keeps a `ModelLifecycle`
/// (pure state), the routing table (version -> `ServedVersion`), and the
/// instances that finished loading but are not yet published.
///
/// Lifecycle events happen under `lock`; the actions they return are applied
/// to the routing table under the same lock (so "publish v3, retire v2" is one
/// atomic swap), and loads are started after it is released, one at a time on
/// the loader queue (validation and a warm-up inference included).
final class ModelManager: @unchecked Sendable {
    final class Entry {
        let name: String
        var lifecycle: ModelLifecycle
        /// Routing table: what requests get.
        var serving: [Int: ServedVersion] = [:]
        /// Loaded instances waiting for their `publish` action, by token.
        var loaded: [Int: ServedVersion] = [:]
        let group: QueueGroup
        /// Present in the repository at the last scan.
        var present = true
        /// Task of the last published instance.
        var task: String?
        var settleWaiters: [CheckedContinuation<Void, Never>] = []

        init(name: String, lifecycle: ModelLifecycle, depth: Gauge) {
            self.name = name
            self.lifecycle = lifecycle
            self.group = QueueGroup(model: name, depth: depth)
        }
    }

    private struct LoadJob {
        let entry: Entry
        let version: Int
        let token: Int
        let fingerprint: String
    }

    private let lock = SchedulerLock()
    private var entries: [String: Entry] = [:]
    private let store: any ModelStore
    private let options: ServingOptions
    private let metrics: ServingMetrics
    private let logger: Logger
    private let loader = DispatchQueue(label: "dlserve.loader")
    /// Process start of `ContinuousClock` mapped to wall time, for status dates.
    private let epoch = (instant: ContinuousClock.now, date: Date())

    init(store: any ModelStore, options: ServingOptions, metrics: ServingMetrics) {
        // Weight buffers of 1 MiB and more always mapped, so that an unload
        // returns them at once (not left in the heap after an earlier large
        // free raised glibc's dynamic threshold). Set on every init: an
        // in-process training run (`dlserve train` in tests, the bench) may
        // have switched the process to keeping freed memory.
        Kernels.mapLargeBlocks(over: 1 << 20)
        self.store = store
        self.options = options
        self.metrics = metrics
        self.logger = options.logger
    }

    // MARK: Routing (hot path)

    /// The instance a request should run on. Throws unknownModel,
    /// versionNotFound or modelNotReady.
    func resolve(_ name: String, version: Int?) throws -> ServedVersion {
        try lock.withLock {
            guard let e = entries[name], e.present || !e.serving.isEmpty else { throw ServingError.unknownModel(name) }
            if let v = version {
                if let instance = e.serving[v] { return instance }
                if e.lifecycle.versions[v]?.state == .loading {
                    throw ServingError.modelNotReady(model: name, reason: "version \(v) is loading")
                }
                throw ServingError.versionNotFound(model: name, version: v)
            }
            if let d = e.lifecycle.defaultVersion, let instance = e.serving[d] { return instance }
            throw ServingError.modelNotReady(model: name, reason: Self.notReadyReason(e.lifecycle))
        }
    }

    static func notReadyReason(_ l: ModelLifecycle) -> String {
        if !l.enabled { return "it is unloaded" }
        if l.versions.values.contains(where: { $0.state == .loading }) { return "it is loading" }
        let failures = l.versions.keys.sorted(by: >).compactMap { v -> String? in
            if case .failed(let m) = l.versions[v]!.state { return "version \(v): \(m)" }
            return nil
        }
        if !failures.isEmpty { return "no version could be loaded (" + failures.joined(separator: "; ") + ")" }
        if l.available.isEmpty { return "it has no versions" }
        return "no version selected by its version policy is available"
    }

    // MARK: Control

    /// Rescans the repository: new models and versions load, changed ones
    /// reload, removed ones retire. An unreadable repository is logged and
    /// leaves the current state alone (and is thrown, for start-up).
    func scan() throws {
        let names: [String]
        do {
            names = try store.modelNames()
        } catch {
            logger.error("cannot list the model repository", metadata: ["error": "\(error)"])
            throw ServingError.repositoryUnavailable("\(error)")
        }
        var found: [(String, [Int: String], VersionPolicy)] = []
        for name in names {
            do {
                found.append((name, try store.versions(of: name), store.versionPolicy(of: name)))
            } catch {
                logger.error("cannot list versions", metadata: ["model": "\(name)", "error": "\(error)"])
            }
        }
        let now = ContinuousClock.now
        var jobs: [LoadJob] = []
        var settled: [CheckedContinuation<Void, Never>] = []
        lock.withLock {
            let listed = Set(names)
            for (name, versions, policy) in found {
                let e = entry(name, policy: policy)
                e.present = true
                jobs += apply(e.lifecycle.scanned(available: versions, policy: policy, now: now), to: e)
                settled += takeWaitersIfSettled(e)
            }
            for e in entries.values where !listed.contains(e.name) && e.present {
                e.present = false
                jobs += apply(e.lifecycle.scanned(available: [:], policy: e.lifecycle.policy, now: now), to: e)
                settled += takeWaitersIfSettled(e)
            }
        }
        start(jobs)
        for c in settled { c.resume() }
    }

    /// Explicit load: re-reads the model's config and versions, loads every
    /// wanted version afresh beside what serves, swaps, and returns when all
    /// loads are done. Throws unknownModel, or loadFailed when a version it
    /// tried failed (what served before keeps serving).
    func load(_ name: String) async throws -> ModelStatus {
        let versions: [Int: String]
        do {
            guard try store.modelNames().contains(name) else { throw ServingError.unknownModel(name) }
            versions = try store.versions(of: name)
        } catch let e as ServingError {
            throw e
        } catch {
            throw ServingError.loadFailed(model: name, message: "\(error)")
        }
        let policy = store.versionPolicy(of: name)
        let started = ContinuousClock.now
        let (e, jobs): (Entry, [LoadJob]) = lock.withLock {
            let e = entry(name, policy: policy)
            e.present = true
            return (e, apply(e.lifecycle.loadRequested(available: versions, policy: policy, now: started), to: e))
        }
        start(jobs)
        await waitSettled(e)
        let failures: [String] = lock.withLock {
            e.lifecycle.versions.keys.sorted(by: >).compactMap { v in
                let s = e.lifecycle.versions[v]!
                guard let at = s.failedAt, at >= started, let m = s.lastError else { return nil }
                return "version \(v): \(m)"
            }
        }
        let status = try status(name)
        if !failures.isEmpty {
            let serving = status.defaultVersion.map { "; version \($0) serves" } ?? "; nothing serves"
            throw ServingError.loadFailed(model: name, message: failures.joined(separator: "; ") + serving)
        }
        if versions.isEmpty { throw ServingError.loadFailed(model: name, message: "it has no versions") }
        return status
    }

    /// Explicit unload: every instance leaves the routing table now (requests
    /// in flight finish on it, then its memory is freed), loads in progress
    /// are abandoned, and polling leaves the model alone until `load`.
    func unload(_ name: String) throws -> ModelStatus {
        let waiters: [CheckedContinuation<Void, Never>] = try lock.withLock {
            guard let e = entries[name] else { throw ServingError.unknownModel(name) }
            _ = apply(e.lifecycle.unloadRequested(now: .now), to: e)
            return takeWaitersIfSettled(e)
        }
        for c in waiters { c.resume() }
        return try status(name)
    }

    /// Waits until no model has a load in progress.
    func waitAllSettled() async {
        for e in lock.withLock({ Array(entries.values) }) { await waitSettled(e) }
    }

    private func waitSettled(_ e: Entry) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                if e.lifecycle.isSettled { return true }
                e.settleWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    // MARK: Status

    func statuses() -> [ModelStatus] {
        lock.withLock { entries.values.filter(isListed).sorted { $0.name < $1.name }.map(statusLocked) }
    }

    func status(_ name: String) throws -> ModelStatus {
        try lock.withLock {
            guard let e = entries[name], isListed(e) else { throw ServingError.unknownModel(name) }
            return statusLocked(e)
        }
    }

    /// Every listed model serves (for strict readiness).
    var allServing: Bool {
        lock.withLock {
            entries.values.allSatisfy { e in
                !isListed(e) || !e.lifecycle.enabled || e.lifecycle.available.isEmpty || e.lifecycle.defaultVersion != nil
            }
        }
    }

    /// The lifecycle of a model (tests, diagnostics).
    func lifecycle(_ name: String) -> ModelLifecycle? { lock.withLock { entries[name]?.lifecycle } }

    private func isListed(_ e: Entry) -> Bool { e.present || !e.lifecycle.versions.isEmpty }

    private func statusLocked(_ e: Entry) -> ModelStatus {
        let l = e.lifecycle
        let d = l.defaultVersion
        let versions = l.versions.keys.sorted().map { v in
            let s = l.versions[v]!
            return VersionStatus(version: v, state: s.state, isDefault: v == d, isServing: e.serving[v] != nil,
                                 since: epoch.date.addingTimeInterval((s.since - epoch.instant).seconds),
                                 lastError: s.lastError)
        }
        return ModelStatus(name: e.name, defaultVersion: d, versions: versions, isEnabled: l.enabled,
                           versionPolicy: l.policy, queueDepth: e.group.pending, task: e.task,
                           signature: d.flatMap { e.serving[$0]?.loaded.signature })
    }

    // MARK: Applying actions

    private func entry(_ name: String, policy: VersionPolicy) -> Entry {
        if let e = entries[name] { return e }
        let e = Entry(name: name, lifecycle: ModelLifecycle(policy: policy, retryFailedAfter: options.retryFailedAfter),
                      depth: metrics.model(name).queueDepth)
        entries[name] = e
        return e
    }

    /// Applies table actions (lock held) and returns the loads to start.
    private func apply(_ actions: [ModelLifecycle.Action], to e: Entry) -> [LoadJob] {
        var jobs: [LoadJob] = []
        for action in actions {
            switch action {
            case .load(let v, let token):
                jobs.append(LoadJob(entry: e, version: v, token: token, fingerprint: e.lifecycle.available[v] ?? ""))
                logger.info("loading model version", metadata: ["model": "\(e.name)", "version": "\(v)"])
            case .publish(let v, let token):
                e.serving[v] = e.loaded.removeValue(forKey: token)
                e.task = e.serving[v]?.config.task ?? e.task
                logger.info("serving model version", metadata: ["model": "\(e.name)", "version": "\(v)"])
            case .retire(let v, let token):
                if e.serving[v]?.token == token { e.serving[v] = nil }
                logger.info("retired model version", metadata: ["model": "\(e.name)", "version": "\(v)"])
            case .discard(_, let token):
                e.loaded[token] = nil
            }
        }
        metrics.model(e.name).record(versions: e.lifecycle.versions.values.map(\.state),
                                     isReady: e.lifecycle.defaultVersion != nil)
        return jobs
    }

    private func takeWaitersIfSettled(_ e: Entry) -> [CheckedContinuation<Void, Never>] {
        guard e.lifecycle.isSettled else { return [] }
        defer { e.settleWaiters.removeAll() }
        return e.settleWaiters
    }

    private func start(_ jobs: [LoadJob]) {
        for job in jobs {
            loader.async { [self] in run(job) }
        }
    }

    /// Loads, validates and warms up one version (loader queue), then reports.
    private func run(_ job: LoadJob) {
        let e = job.entry
        let outcome: Result<ServedVersion, Error>
        do {
            let servable = try store.load(model: e.name, version: job.version)
            try validate(servable)
            let instance = ServedVersion(name: e.name, version: job.version, token: job.token, loaded: servable,
                                         group: e.group, fingerprint: job.fingerprint) { [weak self] name, v, token in
                self?.released(name, version: v, token: token)   // off the releasing thread, after the free
            }
            outcome = .success(instance)
        } catch {
            outcome = .failure(error)
        }
        let now = ContinuousClock.now
        var jobs: [LoadJob] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        lock.withLock {
            switch outcome {
            case .success(let instance):
                e.loaded[job.token] = instance
                jobs = apply(e.lifecycle.loadSucceeded(version: job.version, token: job.token, now: now), to: e)
            case .failure(let error):
                logger.error("loading model version failed",
                             metadata: ["model": "\(e.name)", "version": "\(job.version)", "error": "\(error)"])
                jobs = apply(e.lifecycle.loadFailed(version: job.version, token: job.token, message: "\(error)", now: now), to: e)
            }
            waiters = takeWaitersIfSettled(e)
        }
        start(jobs)
        for c in waiters { c.resume() }
    }

    private func released(_ name: String, version: Int, token: Int) {
        lock.withLock {
            guard let e = entries[name] else { return }
            e.lifecycle.released(version: version, token: token, now: .now)
            metrics.model(name).record(versions: e.lifecycle.versions.values.map(\.state),
                                       isReady: e.lifecycle.defaultVersion != nil)
        }
        Self.returnFreeMemoryToTheSystem()
    }

    /// glibc keeps freed weights in its arenas (its mmap threshold grows with
    /// the first large free); `malloc_trim` gives the pages back, so that an
    /// unload shows in the process's memory. Looked up at run time: Swift's
    /// Glibc module does not export it, and other C libraries lack it.
    static func returnFreeMemoryToTheSystem() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = mallocTrim else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    private static let mallocTrim: UnsafeMutableRawPointer? = dlsym(nil, "malloc_trim")

    /// Checks the config against the model and runs one inference on zeros.
    private func validate(_ s: ServableVersion) throws {
        let model = s.model
        if let p = s.config.preprocessing, p.inputShape != model.inputShape {
            throw VersionCheckError("preprocessing produces \(p.inputShape) but the model takes \(model.inputShape)")
        }
        // Labels name the positions of the output's last axis, whatever the task,
        // except a detector's: they name its head's classes (checked with detection.json).
        if !s.config.labels.isEmpty, s.resources.detection == nil, s.config.labels.count != model.outputShape.last {
            throw VersionCheckError("\(s.config.labels.count) labels for an output of shape \(model.outputShape)")
        }
        guard options.warmUp else { return }
        // Variable (-1) dimensions warm up at length 1; ids of 1 are valid in any vocabulary of 2+.
        let warmShape = [1] + model.inputShape.map { $0 == -1 ? 1 : $0 }
        let warm = model.inputShape.contains(-1) ? Tensor(repeating: 1, shape: warmShape) : Tensor(zeros: warmShape)
        let y = try model.infer(warm)
        // A variable output dimension (a sequence of vectors, [-1, dim]) has the warm-up's length too.
        let expected = [1] + model.outputShape.map { $0 == -1 ? 1 : $0 }
        guard y.shape == expected else {
            throw VersionCheckError("warm-up returned shape \(y.shape), expected \(expected)")
        }
        guard y.data.allSatisfy(\.isFinite) else { throw VersionCheckError("warm-up produced non-finite values") }
    }
}

/// A loaded version that does not fit its config or fails its warm-up.
struct VersionCheckError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
