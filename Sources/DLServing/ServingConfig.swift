import DLNN
import DLVision

/// What the serving core needs from a model's `config.json`, already
/// validated: the task and its labels, how to turn an image into the input,
/// and the scheduling settings. `FileModelStore` builds it from the model
/// repository; tests and other stores can build it directly.
public struct ServingConfig: Sendable, Equatable {
    /// config.json's task; the served tasks (`ServingTask.modelTask`) answer
    /// only models of their own task. V2 infer serves every task.
    public var task: String
    /// Class names, index = output position (classification).
    public var labels: [String]
    /// Image -> input tensor; nil for models that take no images.
    public var preprocessing: ImagePreprocessing?
    /// Largest number of rows (examples) run as one batch; 1 disables batching.
    public var maxBatchSize: Int
    /// How long the first request of a batch may wait for others; zero means
    /// a batch leaves as soon as a worker is free (requests that arrived while
    /// every worker was busy still form a batch).
    public var maxQueueDelay: Duration
    /// Largest number of queued requests for the model; beyond it, `queueFull`.
    public var maxQueueSize: Int
    public var versionPolicy: VersionPolicy
    /// Default deadline for requests that bring none (nil: the engine's default).
    public var timeout: Duration?

    /// The defaults are config.json's (`ModelConfig.Serving`), the one set of serving defaults.
    public init(task: String, labels: [String] = [],
                preprocessing: ImagePreprocessing? = nil, maxBatchSize: Int = ModelConfig.Serving().maxBatchSize,
                maxQueueDelay: Duration = .microseconds(Int64(ModelConfig.Serving().maxQueueDelayMs * 1000)),
                maxQueueSize: Int = ModelConfig.Serving().queueCapacity,
                versionPolicy: VersionPolicy = .latest, timeout: Duration? = nil) {
        self.task = task
        self.labels = labels
        self.preprocessing = preprocessing
        self.maxBatchSize = max(1, maxBatchSize)
        self.maxQueueDelay = max(.zero, maxQueueDelay)
        self.maxQueueSize = max(1, maxQueueSize)
        self.versionPolicy = versionPolicy
        self.timeout = timeout
    }
}
