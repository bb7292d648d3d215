import DLTensor
import Foundation

/// A saved model is a directory with the architecture and the weights:
///
///     model.json           ModelSpec, pretty-printed with sorted keys
///     weights.safetensors  the state dict ("node.param" -> Float32 tensor)
///
/// Both files are written atomically. Loading validates the architecture, then
/// every tensor's presence, shape and finiteness, before any value is copied.
extension GraphModel {
    public static let specFileName = "model.json"
    public static let weightsFileName = "weights.safetensors"
    /// The `format` value this engine reads and writes in model.json.
    public static let specFormat = "dlserve-model/1"

    /// Writes model.json and weights.safetensors into `directory` (created if needed).
    public func save(to directory: URL, metadata: [String: String] = [:]) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelError.io("cannot create \(directory.path): \(error.localizedDescription)")
        }
        try JSONFile.write(spec, to: directory.appendingPathComponent(Self.specFileName))
        try Safetensors.write(stateDict, metadata: metadata, to: directory.appendingPathComponent(Self.weightsFileName))
    }

    /// Reads, builds and fills a model saved by `save(to:)` (or by PyTorch with the
    /// same state-dict names and layouts).
    public static func load(from directory: URL) throws -> GraphModel {
        let spec = try readSpec(directory.appendingPathComponent(specFileName))
        let model = try GraphModel(spec: spec)
        let weightsURL = directory.appendingPathComponent(weightsFileName)
        let file = try Safetensors.read(contentsOf: weightsURL)
        do {
            try model.loadStateDict(file.tensors)
        } catch ModelError.checkpoint(let m) {
            throw ModelError.checkpoint("\(weightsURL.path): \(m)")
        }
        return model
    }

    /// Reads and decodes a model.json. Errors name the file and the field.
    public static func readSpec(_ url: URL) throws -> ModelSpec {
        let spec: ModelSpec
        do {
            spec = try JSONFile.decode(ModelSpec.self, from: url)
        } catch let e as JSONFile.DecodeError {
            throw ModelError.architecture("\(url.path): \(e.message)")
        }
        guard spec.format == specFormat else {
            throw ModelError.architecture("\(url.path): format '\(spec.format)' is not supported (expected '\(specFormat)')")
        }
        return spec
    }

    /// Replaces every parameter and buffer with the tensor of the same name.
    /// All or nothing: on error the model is unchanged.
    public func loadStateDict(_ tensors: [String: Tensor]) throws {
        try StateDict.load(tensors, into: stateDict)
    }
}
