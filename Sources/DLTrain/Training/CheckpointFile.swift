import DLNN
import DLTensor
import Foundation

/// The metadata every run checkpoint carries beside its own fields: its
/// format and the optimizer's rule, step counts and buffer names.
protocol CheckpointMetadata: Codable {
    var format: String { get }
    var optimizerRule: String { get }
    var optimizerSteps: [String: Int] { get }
    var optimizerBuffers: [String: [String]] { get }
}

/// The file layout the training, translation and detection checkpoints
/// share: one safetensors file, written atomically, with
///
///     model/<param>               weights and buffers
///     <prefix>/<param>            extra weight sets (e.g. "best/")
///     optimizer/<param>/<buffer>  optimizer buffers
///     __metadata__[key]           the run's JSON metadata
enum CheckpointFile {
    static func encode(weights: [String: Tensor], extra: [String: [String: Tensor]] = [:], optimizer: OptimizerState,
                       key: String, metadata: some Encodable) throws -> Data {
        var tensors: [(name: String, tensor: Tensor)] = weights.map { ("model/\($0.key)", $0.value) }
        for (prefix, set) in extra { tensors += set.map { ("\(prefix)/\($0.key)", $0.value) } }
        tensors += optimizer.checkpointTensors
        let json = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        return try Safetensors.encode(tensors, metadata: [key: json])
    }

    struct Contents<Meta: CheckpointMetadata> {
        var meta: Meta
        var weights: [String: Tensor]
        /// The tensors of each extra prefix (without the prefix).
        var extra: [String: [String: Tensor]]
        var optimizer: OptimizerState
    }

    static func read<Meta: CheckpointMetadata>(_ url: URL, key: String, kind: String, format: String,
                                               extraPrefixes: [String] = []) throws -> Contents<Meta> {
        let file: SafetensorsFile
        do { file = try Safetensors.read(contentsOf: url) } catch let e as ModelError { throw TrainingError.checkpoint("\(e)") }
        return try decode(file, key: key, kind: kind, format: format, extraPrefixes: extraPrefixes, what: url.path)
    }

    /// Checks the metadata's presence, JSON and format; every tensor must be
    /// a weight, an extra set's or an optimizer buffer the metadata lists.
    static func decode<Meta: CheckpointMetadata>(_ file: SafetensorsFile, key: String, kind: String, format: String,
                                                 extraPrefixes: [String] = [], what: String) throws -> Contents<Meta> {
        guard let json = file.metadata[key] else {
            throw TrainingError.checkpoint("\(what): not a \(kind) checkpoint (no \(key) metadata)")
        }
        let meta: Meta
        do { meta = try JSONDecoder().decode(Meta.self, from: Data(json.utf8)) } catch {
            throw TrainingError.checkpoint("\(what): malformed metadata (\(error))")
        }
        guard meta.format == format else { throw TrainingError.checkpoint("\(what): format '\(meta.format)', expected '\(format)'") }
        var weights: [String: Tensor] = [:], extra: [String: [String: Tensor]] = [:]
        var optimizer = OptimizerStateReader(steps: meta.optimizerSteps, bufferNames: meta.optimizerBuffers, what: what)
        tensors: for (name, t) in file.tensors {
            if name.hasPrefix("model/") { weights[String(name.dropFirst(6))] = t; continue }
            for p in extraPrefixes where name.hasPrefix(p + "/") {
                extra[p, default: [:]][String(name.dropFirst(p.count + 1))] = t
                continue tensors
            }
            if try !optimizer.take(name, t) { throw TrainingError.checkpoint("\(what): unexpected tensor '\(name)'") }
        }
        return Contents(meta: meta, weights: weights, extra: extra, optimizer: try optimizer.state(rule: meta.optimizerRule))
    }

    /// A seed stored as a decimal string (JSON numbers lose precision above 2^53).
    static func seed(_ s: String, what: String) throws -> UInt64 {
        guard let seed = UInt64(s) else { throw TrainingError.checkpoint("\(what): bad seed '\(s)'") }
        return seed
    }
}
