import DLTensor

/// A model: a directed acyclic graph of named layers built from a `ModelSpec`.
/// Residual additions and channel concatenations are ordinary nodes with
/// several inputs, so ResNet and inception blocks are expressible.
///
/// Forward: input [N, ...inputShape] -> output [N, ...outputShape]; a model
/// with several named inputs and outputs (a sequence-to-sequence model reads
/// "src" and "tgt") runs through `callAsFunction(inputs:_:)` and `infer(inputs:)`.
public final class GraphModel: @unchecked Sendable {
    public let spec: ModelSpec
    /// Layers in topological order, parallel to `order`.
    public let layers: [Layer]
    /// Node specs in topological order.
    public let order: [LayerSpec]
    /// Shape (without batch) of every node's output and of every input, by name.
    public let shapes: [String: [Int]]

    /// Builds and validates the graph: unique names, known inputs, no cycles,
    /// fitting shapes. Fresh weights are drawn from `seed`.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws {
        self.spec = spec
        let inputNames = spec.inputs.map(\.name)
        guard !inputNames.isEmpty, !spec.outputs.isEmpty else {
            throw ModelError.architecture("a model needs at least one input and one output")
        }
        for i in spec.inputs {
            guard !i.name.isEmpty, !i.name.contains(".") else {
                throw ModelError.architecture("input name '\(i.name)' is empty or contains '.'")
            }
            guard InputSpec.dtypes.contains(i.dtype) else {
                throw ModelError.architecture("input '\(i.name)': dtype '\(i.dtype)' is not one of \(InputSpec.dtypes.sorted())")
            }
            guard i.shape.allSatisfy({ $0 > 0 || $0 == -1 }) else {
                let field = spec.isSingleInputForm ? "input_shape" : "input '\(i.name)' shape"
                throw ModelError.architecture("\(field) \(i.shape) must be positive, or -1 for a variable (sequence) dimension")
            }
        }
        guard Set(inputNames).count == inputNames.count else {
            throw ModelError.architecture("duplicate input name in \(inputNames)")
        }
        var byName: [String: LayerSpec] = [:]
        for l in spec.layers {
            guard !l.name.isEmpty, l.name != "input", !inputNames.contains(l.name), !l.name.contains(".") else {
                throw ModelError.architecture("layer name '\(l.name)' is empty, reserved or contains '.'")
            }
            guard byName[l.name] == nil else { throw ModelError.architecture("duplicate layer name '\(l.name)'") }
            guard !l.inputs.isEmpty else { throw ModelError.architecture("layer '\(l.name)' has no inputs") }
            byName[l.name] = l
        }
        // Kahn's algorithm in declaration order.
        var done = Set(inputNames)
        var sorted: [LayerSpec] = []
        var pending = spec.layers
        while !pending.isEmpty {
            guard let i = pending.firstIndex(where: { $0.inputs.allSatisfy(done.contains) }) else {
                let l = pending[0]
                let missing = l.inputs.first { byName[$0] == nil && !inputNames.contains($0) }
                if let missing { throw ModelError.architecture("layer '\(l.name)' reads unknown input '\(missing)'") }
                throw ModelError.architecture("the graph has a cycle through '\(l.name)'")
            }
            let l = pending.remove(at: i)
            done.insert(l.name)
            sorted.append(l)
        }
        for o in spec.outputs where !done.contains(o) {
            throw ModelError.architecture("output '\(o)' is not a layer")
        }
        guard Set(spec.outputs).count == spec.outputs.count else {
            throw ModelError.architecture("duplicate output in \(spec.outputs)")
        }
        var shapes: [String: [Int]] = [:]
        for i in spec.inputs { shapes[i.name] = i.shape }
        var layers: [Layer] = []
        let rng = SeededGeneratorBox(seed: seed)
        for l in sorted {
            let ins = l.inputs.map { shapes[$0]! }
            let layer = try LayerRegistry.make(l, inputShapes: ins, rng: rng)
            shapes[l.name] = try layer.outputShape(ins)
            let unread = l.unreadAttributes
            guard unread.isEmpty else {
                let known = l.reads.all.sorted().joined(separator: ", ")
                throw ModelError.architecture("layer '\(l.name)' (\(l.type)): unknown attribute\(unread.count == 1 ? "" : "s") "
                    + unread.map { "'\($0)'" }.joined(separator: ", ") + (known.isEmpty ? " (it takes none)" : " (it takes: \(known))"))
            }
            layers.append(layer)
        }
        self.order = sorted
        self.layers = layers
        self.shapes = shapes
    }

    /// Whether a shape (without batch) fits the input shape, -1 matching any
    /// positive size.
    public func accepts(_ shape: [Int]) -> Bool {
        accepts(shape, input: spec.inputs[0].name)
    }

    /// Whether a shape (without batch) fits the named input's shape.
    public func accepts(_ shape: [Int], input: String) -> Bool {
        guard let declared = spec.inputs.first(where: { $0.name == input })?.shape else { return false }
        return shape.count == declared.count && zip(shape, declared).allSatisfy { $1 == -1 ? $0 > 0 : $0 == $1 }
    }

    /// Whether the input has a variable (sequence) dimension.
    public var hasVariableInput: Bool { spec.inputShape.contains(-1) }

    /// Output shape without batch (of the first output).
    public var outputShape: [Int] { shapes[spec.output]! }

    /// Every output's shape without batch, parallel to `spec.outputs`.
    public var outputShapes: [[Int]] { spec.outputs.map { shapes[$0]! } }

    /// Runs the graph. x: [N, ...inputShape] -> [N, ...outputShape]. For a
    /// model with one input; its first output.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(spec.inputs.count == 1, "GraphModel: the model has inputs \(spec.inputs.map(\.name)); pass them by name")
        precondition(accepts(Array(x.shape.dropFirst())),
                     "GraphModel: input \(x.shape) does not match [N] + \(spec.inputShape)")
        return run([spec.inputs[0].name: x], outputs: [spec.output], ctx)[spec.output]!
    }

    /// Inference: no graph recorded, batch norm in inference mode.
    public func infer(_ x: Tensor) -> Tensor {
        GradMode.withoutGrad { self(x, .inference()) }
    }

    /// Runs the graph on named inputs, each [N, ...shape of that input] with
    /// one N (variable dimensions may differ between inputs: source and
    /// target lengths), and returns every declared output by name,
    /// [N, ...shape of that output].
    public func callAsFunction(inputs: [String: Tensor], _ ctx: ForwardContext) -> [String: Tensor] {
        precondition(Set(inputs.keys) == Set(spec.inputs.map(\.name)),
                     "GraphModel: inputs \(inputs.keys.sorted()) are not the model's \(spec.inputs.map(\.name))")
        let n = inputs.first!.value.shape.first
        for i in spec.inputs {
            let x = inputs[i.name]!
            precondition(x.shape.first == n && accepts(Array(x.shape.dropFirst()), input: i.name),
                         "GraphModel: input '\(i.name)' \(x.shape) does not match [\(n.map(String.init) ?? "N")] + \(i.shape)")
        }
        return run(inputs, outputs: spec.outputs, ctx)
    }

    /// Inference on named inputs: no graph recorded, batch norm in inference mode.
    public func infer(inputs: [String: Tensor]) -> [String: Tensor] {
        GradMode.withoutGrad { self(inputs: inputs, .inference()) }
    }

    /// Evaluates the nodes in order, freeing each intermediate value after its last use.
    func run(_ inputs: [String: Tensor], outputs: [String], _ ctx: ForwardContext) -> [String: Tensor] {
        var values = inputs
        let kept = Set(outputs)
        var remainingUses: [String: Int] = [:]
        for l in order { for i in l.inputs { remainingUses[i, default: 0] += 1 } }
        for (l, layer) in zip(order, layers) {
            let ins = l.inputs.map { values[$0]! }
            values[l.name] = layer(ins, ctx)
            for i in l.inputs {
                remainingUses[i]! -= 1
                if remainingUses[i] == 0 && !kept.contains(i) { values[i] = nil }
            }
        }
        var result: [String: Tensor] = [:]
        for o in outputs { result[o] = values[o]! }
        return result
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
