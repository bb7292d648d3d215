import DLNN
import DLTasks
@testable import DLServing
import DLTensor
import Foundation

/// A model whose output shows what ran: for each row x (4 values),
/// y = [sum(x) * scale, tag]. It sleeps `delay` per batch and records batch sizes.
final class FakeModel: InferenceModel, @unchecked Sendable {
    let inputShape = [4]
    let outputShape = [2]
    let scale: Float
    let tag: Float
    let delay: Duration
    private let lock = NSLock()
    private var _batches: [Int] = []
    private var _rowsSeen: [Float] = []
    private var _onWorker: [Bool] = []

    init(scale: Float = 1, tag: Float = 0, delay: Duration = .zero) {
        self.scale = scale
        self.tag = tag
        self.delay = delay
    }

    var batches: [Int] { lock.withLock { _batches } }
    /// First value of every row that was computed.
    var rowsSeen: [Float] { lock.withLock { _rowsSeen } }
    /// For every batch, whether it ran on one of the scheduler's worker threads.
    var ranOnWorker: [Bool] { lock.withLock { _onWorker } }

    func infer(_ x: Tensor) throws -> Tensor {
        let n = x.shape[0]
        lock.withLock {
            _batches.append(n)
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            _onWorker.append(name.hasPrefix("dlserve-worker"))
            for i in 0..<n { _rowsSeen.append(x.data[i * 4]) }
        }
        if delay > .zero { Thread.sleep(forTimeInterval: delay.seconds) }
        var out: [Float] = []
        for i in 0..<n {
            out.append(x.data[(i * 4)..<(i * 4 + 4)].reduce(0, +) * scale)
            out.append(tag)
        }
        return Tensor(shape: [n, 2], data: out)
    }

    static func expected(_ row: [Float], scale: Float = 1, tag: Float) -> [Float] {
        [row.reduce(0, +) * scale, tag]
    }
}

/// An in-memory repository of fake or real models, editable while an engine serves it.
final class FakeStore: ModelStore, @unchecked Sendable {
    struct Entry {
        var fingerprint: String
        var loadDelay: Duration = .zero
        var make: @Sendable () throws -> ServableVersion
    }

    struct LoadFailure: Error, CustomStringConvertible { let description: String }

    private let lock = NSLock()
    private var models: [String: [Int: Entry]] = [:]
    private var policies: [String: VersionPolicy] = [:]
    private var _loads = 0

    var loads: Int { lock.withLock { _loads } }

    func set(_ model: String, version: Int, fingerprint: String? = nil, loadDelay: Duration = .zero,
             make: @escaping @Sendable () throws -> ServableVersion) {
        lock.withLock {
            models[model, default: [:]][version] = Entry(fingerprint: fingerprint ?? UUID().uuidString,
                                                         loadDelay: loadDelay, make: make)
        }
    }

    /// A fake model version whose outputs carry `tag` = version (unless given).
    func setFake(_ model: String, version: Int, config: ServingConfig = ServingConfig(task: "regression"),
                 delay: Duration = .zero, scale: Float = 1, loadDelay: Duration = .zero, failure: String? = nil,
                 onMake: (@Sendable (FakeModel) -> Void)? = nil) {
        set(model, version: version, loadDelay: loadDelay) {
            if let failure { throw LoadFailure(description: failure) }
            let m = FakeModel(scale: scale, tag: Float(version), delay: delay)
            onMake?(m)
            return ServableVersion(model: m, config: config)
        }
    }

    func remove(_ model: String, version: Int? = nil) {
        lock.withLock {
            if let version { models[model]?[version] = nil } else { models[model] = nil }
        }
    }

    func setPolicy(_ model: String, _ policy: VersionPolicy) { lock.withLock { policies[model] = policy } }

    func modelNames() throws -> [String] { lock.withLock { models.keys.sorted() } }

    func versions(of model: String) throws -> [Int: String] {
        lock.withLock { models[model]?.mapValues(\.fingerprint) ?? [:] }
    }

    func versionPolicy(of model: String) -> VersionPolicy { lock.withLock { policies[model] ?? .latest } }

    func load(model: String, version: Int) throws -> ServableVersion {
        let entry: Entry? = lock.withLock {
            _loads += 1
            return models[model]?[version]
        }
        guard let entry else { throw LoadFailure(description: "no such version") }
        if entry.loadDelay > .zero { Thread.sleep(forTimeInterval: entry.loadDelay.seconds) }
        return try entry.make()
    }
}

extension ServingOptions {
    static func testing(workers: Int = 2) -> ServingOptions {
        var o = ServingOptions()
        o.workers = workers
        o.pollInterval = nil
        o.logger.logLevel = .critical
        return o
    }
}

/// Results of concurrent calls, in submission order.
func concurrently<T: Sendable>(_ n: Int, _ body: @escaping @Sendable (Int) async throws -> T) async -> [Result<T, Error>] {
    await withTaskGroup(of: (Int, Result<T, Error>).self) { group in
        for i in 0..<n {
            group.addTask {
                do { return (i, .success(try await body(i))) } catch { return (i, .failure(error)) }
            }
        }
        var out = [Result<T, Error>?](repeating: nil, count: n)
        for await (i, r) in group { out[i] = r }
        return out.map { $0! }
    }
}

func row(_ i: Int) -> Tensor { Tensor(shape: [1, 4], data: [Float(i), 1, 2, 3]) }

extension ServingEngine {
    /// The classification task run as the daemon runs it (one request through `perform`).
    func classify(model: String, version: Int? = nil, input: ImageInput, topK: Int = 5,
                  requestID: String? = nil) async throws -> Classification.Response {
        try await perform(Classification(), model: model, version: version,
                          request: Classification.Request(input: input, topK: topK), requestID: requestID)
    }
}
