import DLNN
import DLTensor
import DLVision
import Dispatch
import Foundation
import Logging

/// The serving core of dlserve, free of HTTP: a model registry with versions
/// and hot reload (`ModelManager`), a worker pool with dynamic batching
/// (`InferenceScheduler`), image decoding and preprocessing, metrics.
///
/// Typical life:
///
///     let engine = ServingEngine(repository: URL(fileURLWithPath: "models"), options: options)
///     await engine.start()                 // load + validate + warm up every model
///     let r = try await engine.classify(model: "fashion-mnist", input: .encoded(body, mediaType: "image/png"))
///     ...
///     await engine.shutdown(timeout: .seconds(10))   // drain
///
/// Every throwing method throws `ServingError` only.
public final class ServingEngine: Sendable {
    private struct State {
        var started = false
        var draining = false
        var stopped = false
        var repositoryFailed = false
        var poller: DispatchSourceTimer?
    }

    public let options: ServingOptions
    private let store: any ModelStore
    let metrics: ServingMetrics
    let manager: ModelManager
    let scheduler: InferenceScheduler
    let decoder: ImageDecoder
    private let state = Locked(State())
    let logger: Logger

    /// Largest number of rows one request may carry.
    public static let maxRequestRows = 1024

    /// An engine serving the model repository at `repository` (see `FileModelStore`).
    public convenience init(repository: URL, options: ServingOptions = ServingOptions()) {
        self.init(store: FileModelStore(root: repository), options: options)
    }

    /// An engine serving the models of any store (tests use stores of fakes).
    public init(store: any ModelStore, options: ServingOptions = ServingOptions()) {
        self.options = options
        self.store = store
        self.logger = options.logger
        self.metrics = ServingMetrics(factory: options.metricsFactory)
        self.manager = ModelManager(store: store, options: options, metrics: metrics)
        self.scheduler = InferenceScheduler(workers: options.workers, blasThreads: options.blasThreads,
                                            inlineBelow: options.inlineBelow, metrics: metrics, logger: options.logger)
        self.decoder = ImageDecoder(maxPixels: options.maxImagePixels)
    }

    // MARK: Life cycle

    /// Starts the workers, loads every model of the repository (validated and
    /// warmed up), and returns when every load has finished, successfully or
    /// not (failures are in `models()`). Then starts polling. Idempotent.
    /// Throws `repositoryUnavailable` (and stays unready) when the repository
    /// cannot be listed; polling still runs, so the engine recovers when it appears.
    public func start() async throws {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        scheduler.start()
        var failure: ServingError?
        do { try manager.scan() } catch { failure = Self.serving(error) }
        await manager.waitAllSettled()
        if failure != nil { state.withLock { $0.repositoryFailed = true } }
        if let interval = options.pollInterval {
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "dlserve.poll"))
            let ns = Int(max(interval, .milliseconds(10)).nanoseconds)
            timer.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns))
            timer.setEventHandler { [weak self] in
                guard let self else { return }
                if (try? self.manager.scan()) != nil { self.state.withLock { $0.repositoryFailed = false } }
            }
            timer.resume()
            state.withLock { $0.poller = timer }
        }
        let statuses = manager.statuses()
        logger.info("serving engine started", metadata: [
            "models": "\(statuses.count)", "ready": "\(statuses.filter(\.isReady).count)", "workers": "\(options.workers)",
        ])
        if let failure { throw failure }
    }

    /// The process is up (V2 `health/live`): false only after `shutdown`.
    public var isLive: Bool { !state.withLock { $0.stopped } }

    /// Start-up finished, not draining, and (with `strictReadiness`) every
    /// enabled model that has versions serves one (V2 `health/ready`).
    public var isReady: Bool {
        let s = state.current
        guard s.started, !s.draining, !s.repositoryFailed else { return false }
        return !options.strictReadiness || manager.allServing
    }

    /// Stops accepting requests (they get `shuttingDown`), stops polling, lets
    /// queued and running requests finish for up to `timeout`, then fails
    /// what is left and stops the workers. Returns true if everything drained.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(30)) async -> Bool {
        let (first, poller) = state.withLock { s -> (Bool, DispatchSourceTimer?) in
            defer {
                s.draining = true
                s.poller = nil
            }
            return (!s.draining, s.poller)
        }
        guard first else { return scheduler.isIdle }
        poller?.cancel()
        logger.info("serving engine draining")
        scheduler.beginDrain()
        let end = ContinuousClock.now + timeout
        while !scheduler.isIdle && ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let drained = scheduler.isIdle
        scheduler.stop()
        state.withLock { $0.stopped = true }
        logger.info("serving engine stopped", metadata: ["drained": "\(drained)"])
        return drained
    }

    // MARK: Inference

    /// Runs `input` through a model. `input` is [N, ...inputShape] (N >= 1) or
    /// one example of shape inputShape. The request waits at most until
    /// `deadline` (default: now + the model's timeout). Cancelling the calling
    /// task drops the queued work.
    ///
    /// Throws unknownModel, versionNotFound, modelNotReady, invalidInput,
    /// queueFull, timeout, cancelled, shuttingDown, internal.
    public func infer(model: String, version: Int? = nil, input: Tensor,
                      deadline: ContinuousClock.Instant? = nil, requestID: String? = nil) async throws -> InferenceResult {
        let start = ContinuousClock.now
        do {
            let instance = try manager.resolve(model, version: version)
            let result = try await run(instance, input: input, deadline: deadline, requestID: requestID)
            record(model, start: start, error: nil, requestID: requestID)
            return result
        } catch {
            let e = Self.serving(error)
            record(model, start: start, error: e, requestID: requestID)
            throw e
        }
    }

    /// Validates the input against the instance and queues it.
    func run(_ instance: ServedVersion, input: Tensor, deadline: ContinuousClock.Instant?,
                     requestID: String?) async throws -> InferenceResult {
        guard isAccepting else { throw ServingError.shuttingDown }
        let shape = instance.model.inputShape
        func fits(_ s: [Int]) -> Bool {
            s.count == shape.count && zip(s, shape).allSatisfy { $1 == -1 ? $0 >= 1 : $0 == $1 }
        }
        let x: Tensor
        if fits(input.shape) {
            x = Tensor(shape: [1] + input.shape, data: input.data)
        } else if input.shape.count == shape.count + 1, fits(Array(input.shape.dropFirst())), input.shape[0] >= 1 {
            x = input
        } else {
            throw ServingError.invalidInput("model '\(instance.name)' takes shape [N, \(shape.map(String.init).joined(separator: ", "))], got \(input.shape)")
        }
        guard x.shape[0] <= Self.maxRequestRows else {
            throw ServingError.invalidInput("a request may carry at most \(Self.maxRequestRows) examples, got \(x.shape[0])")
        }
        guard x.data.allSatisfy(\.isFinite) else { throw ServingError.invalidInput("the input contains NaN or infinity") }
        if let check = instance.loaded.validateInput, let problem = check(x) { throw ServingError.invalidInput(problem) }
        let now = ContinuousClock.now
        let deadline = deadline ?? now + (instance.config.timeout ?? options.defaultTimeout)
        let request = PendingRequest(input: x, instance: instance, deadline: deadline, requestID: requestID, submitted: now)
        let result = try await scheduler.submit(request)
        let m = metrics.model(instance.name)
        m.queueTime.recordNanoseconds(result.queueTime.nanoseconds)
        return result
    }

    private var isAccepting: Bool {
        let s = state.current
        return s.started && !s.draining
    }

    func record(_ model: String, start: ContinuousClock.Instant, error: ServingError?, requestID: String?) {
        // Unknown names are not metric dimensions: clients could create unbounded series.
        let name = error == .unknownModel(model) ? "_unknown" : model
        let m = metrics.model(name)
        m.count(status: error?.code ?? "ok")
        m.duration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        if let error, error.httpStatus >= 500 {
            logger.warning("request failed", metadata: [
                "model": "\(model)", "error": "\(error)", "request_id": "\(requestID ?? "-")",
            ])
        }
    }

    static func serving(_ error: Error) -> ServingError {
        switch error {
        case let e as ServingError: return e
        case let e as ImageError: return ServingError(e)
        case is CancellationError: return .cancelled
        default: return .internal("\(error)")
        }
    }

    // MARK: Models

    /// Every model in the repository (or still holding versions), by name.
    public func models() -> [ModelStatus] { manager.statuses() }

    /// One model's status. Throws unknownModel.
    public func status(model: String) throws -> ModelStatus {
        do { return try manager.status(model) } catch { throw Self.serving(error) }
    }

    /// Whether `model` (at `version`, or its default version) can serve now.
    public func isReady(model: String, version: Int? = nil) -> Bool {
        (try? manager.resolve(model, version: version)) != nil
    }

    /// V2 metadata of a model (at `version`, or its default version).
    /// Throws unknownModel, versionNotFound, modelNotReady.
    public func metadata(model: String, version: Int? = nil) throws -> ModelMetadata {
        let instance: ServedVersion
        do { instance = try manager.resolve(model, version: version) } catch { throw Self.serving(error) }
        let status = try? manager.status(model)
        let serving = status?.versions.filter(\.isServing).map { String($0.version) } ?? [String(instance.version)]
        let signature = instance.loaded.signature
        return ModelMetadata(name: model, versions: serving, inputs: signature.inputs, outputs: signature.outputs,
                             task: instance.config.task, labels: signature.labels, preprocessing: signature.preprocessing)
    }

    /// Explicit (re)load: reads the model's config and versions again and
    /// loads every version its policy wants, beside what serves now; the
    /// swap is atomic and requests in flight finish on their version.
    /// Returns when the loads are done. Throws unknownModel, or loadFailed
    /// when a version failed (what served before keeps serving).
    @discardableResult
    public func load(model: String) async throws -> ModelStatus {
        do { return try await manager.load(model) } catch { throw Self.serving(error) }
    }

    /// Takes every version of the model out of service; memory is freed as
    /// soon as requests in flight finish. Polling leaves the model unloaded
    /// until `load`. Throws unknownModel.
    @discardableResult
    public func unload(model: String) throws -> ModelStatus {
        do { return try manager.unload(model) } catch { throw Self.serving(error) }
    }

    /// Rescans the repository now (polling does this every `pollInterval`)
    /// and waits for the loads it started.
    public func poll() async {
        if (try? manager.scan()) != nil { state.withLock { $0.repositoryFailed = false } }
        await manager.waitAllSettled()
    }
}
