import DLTensor

/// A model: a directed acyclic graph of named layers built from a `ModelSpec`.
/// Residual additions and channel concatenations are ordinary nodes with
/// several inputs, so ResNet and inception blocks are expressible.
///
/// Forward: input [N, ...inputShape] -> output [N, ...outputShape].
public final class GraphModel: @unchecked Sendable {
    public let spec: ModelSpec
    /// Layers in topological order, parallel to `order`.
    public let layers: [Layer]
    /// Node specs in topological order.
    public let order: [LayerSpec]
    /// Shape (without batch) of every node's output, by node name.
    public let shapes: [String: [Int]]

    /// Builds and validates the graph: unique names, known inputs, no cycles,
    /// fitting shapes. Fresh weights are drawn from `seed`.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws {
        self.spec = spec
        var byName: [String: LayerSpec] = [:]
        for l in spec.layers {
            guard !l.name.isEmpty, l.name != "input", !l.name.contains(".") else {
                throw ModelError.architecture("layer name '\(l.name)' is empty, reserved or contains '.'")
            }
            guard byName[l.name] == nil else { throw ModelError.architecture("duplicate layer name '\(l.name)'") }
            guard !l.inputs.isEmpty else { throw ModelError.architecture("layer '\(l.name)' has no inputs") }
            byName[l.name] = l
        }
        guard spec.inputShape.allSatisfy({ $0 > 0 || $0 == -1 }) else {
            throw ModelError.architecture("input_shape \(spec.inputShape) must be positive, or -1 for a variable (sequence) dimension")
        }
        // Kahn's algorithm in declaration order.
        var done: Set<String> = ["input"]
        var sorted: [LayerSpec] = []
        var pending = spec.layers
        while !pending.isEmpty {
            guard let i = pending.firstIndex(where: { $0.inputs.allSatisfy(done.contains) }) else {
                let l = pending[0]
                let missing = l.inputs.first { byName[$0] == nil && $0 != "input" }
                if let missing { throw ModelError.architecture("layer '\(l.name)' reads unknown input '\(missing)'") }
                throw ModelError.architecture("the graph has a cycle through '\(l.name)'")
            }
            let l = pending.remove(at: i)
            done.insert(l.name)
            sorted.append(l)
        }
        guard done.contains(spec.output) else {
            throw ModelError.architecture("output '\(spec.output)' is not a layer")
        }
        var shapes: [String: [Int]] = ["input": spec.inputShape]
        var layers: [Layer] = []
        let rng = SeededGeneratorBox(seed: seed)
        for l in sorted {
            let ins = l.inputs.map { shapes[$0]! }
            let layer = try LayerRegistry.make(l, inputShapes: ins, rng: rng)
            shapes[l.name] = try layer.outputShape(ins)
            layers.append(layer)
        }
        self.order = sorted
        self.layers = layers
        self.shapes = shapes
    }

    /// Whether a shape (without batch) fits the input shape, -1 matching any
    /// positive size.
    public func accepts(_ shape: [Int]) -> Bool {
        shape.count == spec.inputShape.count && zip(shape, spec.inputShape).allSatisfy { $1 == -1 ? $0 > 0 : $0 == $1 }
    }

    /// Whether the input has a variable (sequence) dimension.
    public var hasVariableInput: Bool { spec.inputShape.contains(-1) }

    /// Output shape without batch.
    public var outputShape: [Int] { shapes[spec.output]! }

    /// Runs the graph. x: [N, ...inputShape] -> [N, ...outputShape].
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(accepts(Array(x.shape.dropFirst())),
                     "GraphModel: input \(x.shape) does not match [N] + \(spec.inputShape)")
        var values: [String: Tensor] = ["input": x]
        // Free intermediate values after their last use.
        var remainingUses: [String: Int] = [:]
        for l in order { for i in l.inputs { remainingUses[i, default: 0] += 1 } }
        for (l, layer) in zip(order, layers) {
            let ins = l.inputs.map { values[$0]! }
            values[l.name] = layer(ins, ctx)
            for i in l.inputs {
                remainingUses[i]! -= 1
                if remainingUses[i] == 0 && i != spec.output { values[i] = nil }
            }
        }
        return values[spec.output]!
    }

    /// Inference: no graph recorded, batch norm in inference mode.
    public func infer(_ x: Tensor) -> Tensor {
        GradMode.withoutGrad { self(x, .inference()) }
    }

    /// Every trainable tensor, named "node.param" (PyTorch-style state-dict keys).
    public var namedParameters: [(name: String, tensor: Tensor)] {
        zip(order, layers).flatMap { l, layer in layer.parameters.map { ("\(l.name).\($0.name)", $0.tensor) } }
    }

    /// Every saved tensor: parameters then buffers.
    public var stateDict: [(name: String, tensor: Tensor)] {
        namedParameters + zip(order, layers).flatMap { l, layer in
            layer.buffers.map { ("\(l.name).\($0.name)", $0.tensor) }
        }
    }

    /// Total number of trainable values.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }
}
