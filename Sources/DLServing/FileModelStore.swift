import DLNN
import DLText
import DLVision
import Foundation

/// The model repository on disk (`ModelRepository`: `NAME/config.json`,
/// `NAME/VERSION/model.json`, `weights.safetensors`, ...) as a `ModelStore`.
///
/// A version's fingerprint is the name, size and modification time of every
/// file in its directory plus the model's config.json, so editing the config
/// or replacing a version's files in place triggers a reload at the next poll.
public struct FileModelStore: ModelStore {
    public let repository: ModelRepository

    public init(root: URL) {
        repository = ModelRepository(root: root)
    }

    public func modelNames() throws -> [String] {
        try repository.modelNames()
    }

    public func versions(of model: String) throws -> [Int: String] {
        let versions: [Int]
        do {
            versions = try repository.versions(of: model)
        } catch RepositoryError.unknownModel {
            return [:]
        }
        let dir = try repository.directory(of: model)
        let config = Self.stamp(dir.appendingPathComponent(ModelRepository.configFileName))
        var out: [Int: String] = [:]
        for v in versions {
            let vdir = dir.appendingPathComponent(String(v), isDirectory: true)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: vdir.path)) ?? []
            out[v] = ([config] + files.sorted().map { "\($0)=" + Self.stamp(vdir.appendingPathComponent($0)) })
                .joined(separator: ";")
        }
        return out
    }

    public func versionPolicy(of model: String) -> VersionPolicy {
        (try? repository.config(of: model))?.serving.versionPolicy ?? .latest
    }

    public func load(model: String, version: Int) throws -> ServableVersion {
        let loaded = try repository.load(model, version: version)
        var info: [String: String] = [
            "directory": loaded.directory.path,
            "parameters": String(loaded.model.parameterCount),
        ]
        if case .object(let metrics)? = loaded.metrics {
            for (k, v) in metrics {
                switch v {
                case .number(let n): info["metrics.\(k)"] = String(n)
                case .string(let s): info["metrics.\(k)"] = s
                default: break
                }
            }
        }
        // Served through its compiled form: batch norm folded, activations fused, buffers reused.
        let config = try ServingConfig(loaded.config)
        if loaded.config.task == .translation {
            return Self.stepDecoded(loaded, resources: try Self.translationResources(loaded), config: config, info: info)
        }
        if let text = loaded.config.input.text {
            // Sequence models run through the graph (plans size buffers for one fixed shape).
            let resources = try Self.textResources(text, loaded: loaded)
            let vocabSize = resources.vocabulary!.count
            return ServableVersion(model: loaded.model, config: config, info: info, resources: resources) { x in
                x.data.allSatisfy { $0 >= 0 && $0 < Float(vocabSize) && $0 == $0.rounded() }
                    ? nil : "token ids must be whole numbers in 0..<\(vocabSize)"
            }
        }
        let plan = InferencePlan(loaded.model)
        info["plan"] = "\(plan.summary.count) steps for \(loaded.model.layers.count) layers"
        if loaded.config.task == .detection {
            return ServableVersion(model: plan, config: config, info: info, resources: try Self.detectionResources(loaded))
        }
        if loaded.config.task == .embedding {
            return ServableVersion(model: plan, config: config, info: info,
                                   resources: VersionResources(verification: try Self.verificationFile(loaded)))
        }
        return ServableVersion(model: plan, config: config, info: info)
    }

    /// "size@mtime" of a file, or "-" when it cannot be read.
    /// The vocabulary of a text model's version, checked against its embedding.
    static func textResources(_ text: ModelConfig.TextInput, loaded: LoadedModel) throws -> VersionResources {
        let file = loaded.directory.appendingPathComponent(text.vocabulary)
        let vocabulary: Vocabulary
        do { vocabulary = try Vocabulary.load(file) } catch {
            throw RepositoryError.badConfig(model: loaded.config.name, message: "version \(loaded.version): \(text.vocabulary): \(error)")
        }
        for case let e as Embedding in loaded.model.layers where e.vocabSize != vocabulary.count {
            throw RepositoryError.badConfig(model: loaded.config.name,
                message: "version \(loaded.version): \(text.vocabulary) has \(vocabulary.count) words, the embedding \(e.vocabSize) rows")
        }
        return VersionResources(vocabulary: vocabulary, tokenizer: Tokenizer(lowercase: text.lowercase), maxLength: text.maxLength)
    }

    static func stamp(_ url: URL) -> String {
        guard let a = try? FileManager.default.attributesOfItem(atPath: url.path) else { return "-" }
        let size = (a[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)@\(mtime)"
    }
}

extension ServingConfig {
    /// The serving view of a validated config.json.
    public init(_ config: ModelConfig) throws {
        var preprocessing: ImagePreprocessing?
        if config.task.takesImages, config.input.shape.count == 3 {
            let p = config.input.preprocessing
            do {
                preprocessing = try ImagePreprocessing(
                    channels: config.input.shape[0], height: config.input.shape[1], width: config.input.shape[2],
                    resize: ResizeMethod(rawValue: p.resize.rawValue) ?? .auto, scale: p.scale,
                    mean: p.mean, std: p.std, invert: p.invert)
            } catch let e as PreprocessingError {
                throw RepositoryError.badConfig(model: config.name, message: e.message)
            }
        }
        self.init(task: config.task.rawValue, labels: config.labels, preprocessing: preprocessing,
                  maxBatchSize: config.serving.maxBatchSize,
                  maxQueueDelay: .microseconds(Int64((config.serving.maxQueueDelayMs * 1000).rounded())),
                  maxQueueSize: config.serving.queueCapacity, versionPolicy: config.serving.versionPolicy,
                  timeout: .milliseconds(config.serving.timeoutMs))
    }
}
