import DLVision
import DLNN
import DLText
import DLTensor
import Foundation

/// What the scheduler runs: a batch in, a batch out. `infer` is called from
/// several worker threads at once and must not mutate shared state.
///
/// `GraphModel` conforms; tests use small fakes (slow, counting, failing).
public protocol InferenceModel: AnyObject, Sendable {
    /// Input shape without the batch dimension, e.g. [1, 28, 28].
    var inputShape: [Int] { get }
    /// Output shape without the batch dimension, e.g. [10].
    var outputShape: [Int] { get }
    /// x: [N, ...inputShape] -> [N, ...outputShape]. Inference mode (no autodiff).
    func infer(_ x: Tensor) throws -> Tensor
}

extension GraphModel: InferenceModel {
    public var inputShape: [Int] { spec.inputShape }
    // `outputShape` and `infer(_:)` are GraphModel's own.
}

/// What the daemon serves: the model compiled for inference.
extension InferencePlan: InferenceModel {
    public func infer(_ x: Tensor) throws -> Tensor { run(x) }
}

/// One loaded version, as a store returns it.
public struct ServableVersion: Sendable {
    public var model: any InferenceModel
    public var config: ServingConfig
    /// Free-form facts for status pages (parameter count, training metrics, ...).
    public var info: [String: String]
    /// Files that ship inside the version beside the weights (a text model's
    /// vocabulary), loaded and validated with it and swapped with it.
    public var resources: VersionResources
    /// Checks a batch before it is queued (token ids inside the vocabulary);
    /// returns the problem, or nil when the input is fine.
    public var validateInput: (@Sendable (Tensor) -> String?)?

    public init(model: any InferenceModel, config: ServingConfig, info: [String: String] = [:],
                resources: VersionResources = VersionResources(), validateInput: (@Sendable (Tensor) -> String?)? = nil) {
        self.model = model
        self.config = config
        self.info = info
        self.resources = resources
        self.validateInput = validateInput
    }
}

/// What a version carries beside its weights.
public struct VersionResources: Sendable {
    /// A text model's vocabulary (`input.text.vocabulary`) and tokenizer.
    public var vocabulary: Vocabulary?
    public var tokenizer: Tokenizer?
    /// Longest accepted text, in tokens.
    public var maxLength: Int?
    /// A translation model's subword tokenizers (`bpe.*` files).
    public var subwords: TranslationSubwords?
    /// A translation model decoded step by step (key/value cache).
    public var decoder: GraphDecoder?
    /// A detector's head geometry (`detection.json`).
    public var detection: YOLOGrid?
    /// An embedding model's metric and tau (`verification.json`).
    public var verification: VerificationFile?

    public init(vocabulary: Vocabulary? = nil, tokenizer: Tokenizer? = nil, maxLength: Int? = nil,
                subwords: TranslationSubwords? = nil, decoder: GraphDecoder? = nil, detection: YOLOGrid? = nil,
                verification: VerificationFile? = nil) {
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self.maxLength = maxLength
        self.subwords = subwords
        self.decoder = decoder
        self.detection = detection
        self.verification = verification
    }
}

/// Where models come from. `FileModelStore` reads a model repository on disk
/// (`NAME/config.json`, `NAME/VERSION/...`); tests can supply stores of fakes.
/// Every method may be called from any thread; `load` may block (it runs on
/// the engine's loader thread).
public protocol ModelStore: Sendable {
    /// The models present now.
    func modelNames() throws -> [String]
    /// The versions of a model present now, each with a fingerprint that
    /// changes whenever the version's files or the model's config change
    /// (size and modification time are enough). Empty if the model is gone.
    func versions(of model: String) throws -> [Int: String]
    /// The model's version policy (read on every scan; `latest` if unreadable).
    func versionPolicy(of model: String) -> VersionPolicy
    /// Reads, builds and validates one version. Throws a descriptive error
    /// (it is shown in the model's status).
    func load(model: String, version: Int) throws -> ServableVersion
}
