import DLNN
import DLTensor

extension OptimizerState {
    /// The buffers as checkpoint tensors, `optimizer/<param>/<buffer>`
    /// (flat, e.g. "optimizer/conv1.weight/exp_avg"); the step counts and
    /// buffer names go in the checkpoint's metadata (`steps`, `bufferNames`).
    var checkpointTensors: [(name: String, tensor: Tensor)] {
        parameters.flatMap { p, s in s.buffers.map { ("optimizer/\(p)/\($0.key)", Tensor(shape: [$0.value.count], data: $0.value)) } }
    }
    var steps: [String: Int] { parameters.mapValues(\.step) }
    var bufferNames: [String: [String]] { parameters.mapValues { $0.buffers.keys.sorted() } }
}

/// Reads an optimizer state back from a checkpoint's tensors and metadata,
/// the inverse of `OptimizerState.checkpointTensors` (training and
/// translation checkpoints share it). Errors name the file (`what`).
struct OptimizerStateReader {
    private var parameters: [String: ParameterState]
    private let bufferNames: [String: [String]]
    private let what: String

    init(steps: [String: Int], bufferNames: [String: [String]], what: String) {
        parameters = steps.mapValues { ParameterState(step: $0) }
        self.bufferNames = bufferNames
        self.what = what
    }

    /// Takes `optimizer/<param>/<buffer>`; false for a tensor that is not an
    /// optimizer buffer (the caller decides what else the file may hold).
    mutating func take(_ name: String, _ tensor: Tensor) throws -> Bool {
        let prefix = "optimizer/"
        guard name.hasPrefix(prefix), let slash = name.lastIndex(of: "/"),
              slash > name.index(name.startIndex, offsetBy: prefix.count) else { return false }
        let p = String(name[name.index(name.startIndex, offsetBy: prefix.count)..<slash]), buf = String(name[name.index(after: slash)...])
        guard parameters[p] != nil, bufferNames[p]?.contains(buf) == true else {
            throw TrainingError.checkpoint("\(what): optimizer tensor '\(name)' is not listed in the metadata")
        }
        parameters[p]!.buffers[buf] = tensor.data
        return true
    }

    /// The state, once every buffer the metadata lists was taken.
    func state(rule: String) throws -> OptimizerState {
        for (p, bufs) in bufferNames where Set(bufs) != Set(parameters[p]?.buffers.keys.map { $0 } ?? []) {
            throw TrainingError.checkpoint("\(what): optimizer buffers of '\(p)' are missing")
        }
        return OptimizerState(rule: rule, parameters: parameters)
    }
}
