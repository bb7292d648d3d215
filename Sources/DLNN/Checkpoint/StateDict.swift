import DLTensor

/// Matching a checkpoint's tensors against a model's state dict
/// ("node.param" names, PyTorch-style), kept apart from file formats so it can
/// be tested with plain named tensors.
public enum StateDict {
    /// Whether a tensor the model does not have may be dropped silently: only
    /// PyTorch's BatchNorm step counter `X.num_batches_tracked`, when the model
    /// has `X.running_mean` (dlserve keeps no such counter). Everything else
    /// unexpected is an error.
    public static func isIgnorable(_ name: String, expected: Set<String>) -> Bool {
        let suffix = ".num_batches_tracked"
        guard name.hasSuffix(suffix) else { return false }
        return expected.contains(String(name.dropLast(suffix.count)) + ".running_mean")
    }

    /// Throws one `ModelError.checkpoint` listing every missing tensor, every
    /// unexpected tensor and every shape mismatch, when there is any.
    public static func check(expected: [(name: String, shape: [Int])], provided: [String: [Int]]) throws {
        let expectedNames = Set(expected.map(\.name))
        var missing: [String] = []
        var misshapen: [String] = []
        for (name, shape) in expected {
            guard let got = provided[name] else { missing.append("'\(name)' \(shape)"); continue }
            if got != shape { misshapen.append("'\(name)' has shape \(got), expected \(shape)") }
        }
        let unexpected = provided.keys
            .filter { !expectedNames.contains($0) && !isIgnorable($0, expected: expectedNames) }
            .sorted()
            .map { "'\($0)'" }
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing tensors " + list(missing)) }
        if !unexpected.isEmpty { problems.append("unexpected tensors " + list(unexpected)) }
        if !misshapen.isEmpty { problems.append(list(misshapen)) }
        guard problems.isEmpty else {
            throw ModelError.checkpoint("the weights do not match the architecture: " + problems.joined(separator: "; "))
        }
    }

    /// Checks `provided` against `target` (names, shapes, finite values) and
    /// only then copies every value into the target tensors: all or nothing.
    public static func load(_ provided: [String: Tensor], into target: [(name: String, tensor: Tensor)]) throws {
        try check(expected: target.map { ($0.name, $0.tensor.shape) }, provided: provided.mapValues(\.shape))
        for (name, _) in target {
            let values = provided[name]!.data
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw ModelError.checkpoint("tensor '\(name)' holds \(values[i]) at index \(i); weights must be finite")
            }
        }
        for (name, tensor) in target {
            tensor.data = provided[name]!.data
        }
    }

    static func list(_ items: [String], limit: Int = 8) -> String {
        let shown = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? "\(shown) and \(items.count - limit) more" : shown
    }
}
