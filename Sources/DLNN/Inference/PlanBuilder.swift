import DLKernels
import DLTensor
import Foundation

/// Rewrites a `GraphModel` into the steps of an `InferencePlan`: fuses what
/// can be fused (see `InferencePlan`), then assigns buffers.
struct PlanBuilder {
    struct Compiled {
        var steps: [Step]
        var bufferSizes: [Int]
        var outputBuffer: Int
    }

    let model: GraphModel
    /// Node index by name.
    let index: [String: Int]
    /// Readers of each node (indices), plus one phantom reader for the model output.
    let readers: [String: [Int]]

    init(_ model: GraphModel) {
        self.model = model
        var index: [String: Int] = [:]
        var readers: [String: [Int]] = [:]
        for (i, l) in model.order.enumerated() {
            index[l.name] = i
            for input in l.inputs { readers[input, default: []].append(i) }
        }
        readers[model.spec.output, default: []].append(-1)
        self.index = index
        self.readers = readers
    }

    /// The node that alone reads `name`'s output, if it has exactly one
    /// input (so it can be fused into the step that computes `name`).
    func soleReader(of name: String) -> (Int, Layer)? {
        guard let r = readers[name], r.count == 1, r[0] >= 0, model.order[r[0]].inputs.count == 1 else { return nil }
        return (r[0], model.layers[r[0]])
    }

    func build() -> Compiled {
        // Values (SSA): value id per node name; flatten and dropout reuse their input's value.
        var valueOf: [String: Int] = [model.spec.inputs[0].name: 0]
        var valueSize: [Int] = [model.spec.inputShape.product]
        var fused = Set<Int>()
        // Steps over value ids (buffers assigned below).
        var steps: [Step] = []

        for (i, (spec, layer)) in zip(model.order, model.layers).enumerated() where !fused.contains(i) {
            let inputShapes = spec.inputs.map { model.shapes[$0]! }
            var inValues = spec.inputs.map { valueOf[$0]! }
            if layer is Flatten || layer is Dropout {
                valueOf[spec.name] = inValues[0]
                continue
            }
            var nodes = [spec.name]
            var tail = spec.name
            // Takes the node that alone reads `tail` into this step when it is
            // an L that `fits`: a batch norm to fold, an activation to fuse.
            func takeNext<L: Layer>(_: L.Type, fits: (L) -> Bool = { _ in true }) -> L? {
                guard let (j, next) = soleReader(of: tail), let next = next as? L, fits(next) else { return nil }
                fused.insert(j)
                tail = model.order[j].name
                nodes.append(tail)
                return next
            }
            func takeBatchNorm(features: Int) -> BatchNorm? { takeNext(BatchNorm.self) { $0.numFeatures == features } }
            func takeActivation() -> Kernels.Activation? { takeNext(Activation.self)?.function }
            // Takes the two-input add that alone reads `tail` when its other
            // input is computed already (a residual shortcut): that input's value.
            func takeResidualAdd() -> Int? {
                guard let r = readers[tail], r.count == 1, r[0] >= 0, model.layers[r[0]] is Add else { return nil }
                let add = model.order[r[0]]
                guard add.inputs.count == 2, let other = add.inputs.first(where: { $0 != tail }),
                      let value = valueOf[other], model.shapes[other] == model.shapes[tail] else { return nil }
                fused.insert(r[0])
                tail = add.name
                nodes.append(tail)
                return value
            }

            let op: Step.Op
            switch layer {
            case let conv as Conv2D where conv.groups == 1:
                let g = try! conv.geometry(inputShapes[0])
                var weight = conv.weight.data, bias = conv.bias?.data
                if let bn = takeBatchNorm(features: conv.outChannels) {
                    Self.fold(bn, weight: &weight, bias: &bias, outputs: conv.outChannels)
                }
                let packed = weight.withUnsafeBufferPointer {
                    Kernels.packFilters($0.baseAddress!, geometry: g, outChannels: conv.outChannels, groups: 1)
                }
                let residual = takeResidualAdd()
                if let residual { inValues.append(residual) }
                op = .conv(weight: weight, bias: bias, geometry: g, outChannels: conv.outChannels, activation: takeActivation(),
                           packed: packed, residual: residual != nil)
            case let dense as Linear:
                var weight = dense.weight.data, bias = dense.bias?.data
                // Batch norm over [N, F] features only (a 1-D input).
                if inputShapes[0].count == 1, let bn = takeBatchNorm(features: dense.outFeatures) {
                    Self.fold(bn, weight: &weight, bias: &bias, outputs: dense.outFeatures)
                }
                op = .dense(weight: weight, bias: bias, inFeatures: dense.inFeatures, outFeatures: dense.outFeatures,
                            activation: takeActivation())
            case let bn as BatchNorm:
                let shape = inputShapes[0]
                op = .batchNorm(mean: bn.runningMean.data, rstd: bn.runningRstd, gamma: bn.weight.data, beta: bn.bias.data,
                                channels: shape[0], spatial: shape.dropFirst().product, activation: takeActivation())
            case let act as Activation:
                op = .activation(act.function)
            case is Add:
                op = .add(activation: takeActivation())
            case let pool as MaxPool2D:
                op = .maxPool(try! pool.geometry(inputShapes[0]))
            case let pool as AvgPool2D:
                op = .avgPool(try! pool.geometry(inputShapes[0]))
            case is GlobalAvgPool:
                op = .globalAvgPool(channels: inputShapes[0][0], size: inputShapes[0].dropFirst().product)
            default:
                op = .layer(layer, inputShapes: inputShapes)
            }
            let outShape = model.shapes[tail]!
            let out = valueSize.count
            valueSize.append(outShape.product)
            for n in nodes { valueOf[n] = out }
            steps.append(Step(op: op, inputs: inValues, output: out, inputSizes: inValues.map { valueSize[$0] },
                              outputSize: outShape.product, outputShape: outShape, nodes: nodes))
        }
        return assignBuffers(steps, valueSize: valueSize, output: valueOf[model.spec.output]!)
    }

    /// Maps values to buffers: a buffer is reused once every reader of its
    /// value has run (never for a step's own inputs). The model output's
    /// buffer is never reused.
    func assignBuffers(_ steps: [Step], valueSize: [Int], output: Int) -> Compiled {
        var lastUse = [Int](repeating: -1, count: valueSize.count)
        for (s, step) in steps.enumerated() { for v in step.inputs { lastUse[v] = s } }
        lastUse[output] = Int.max
        var bufferOf = [Int](repeating: -1, count: valueSize.count)
        var sizes: [Int] = [valueSize[0]]
        bufferOf[0] = 0
        var free: [Int] = []
        var live: [Int] = [0]  // values holding a buffer
        if steps.isEmpty { return Compiled(steps: [], bufferSizes: sizes, outputBuffer: 0) }
        var result: [Step] = []
        for (s, step) in steps.enumerated() {
            // Values whose last reader ran before this step give their buffer back.
            live.removeAll { v in
                guard lastUse[v] < s else { return false }
                free.append(bufferOf[v])
                return true
            }
            let need = valueSize[step.output]
            let buffer: Int
            if let i = free.indices.max(by: { sizes[free[$0]] < sizes[free[$1]] }) {
                buffer = free.remove(at: i)
                sizes[buffer] = max(sizes[buffer], need)
            } else {
                buffer = sizes.count
                sizes.append(need)
            }
            bufferOf[step.output] = buffer
            live.append(step.output)
            result.append(Step(op: step.op, inputs: step.inputs.map { bufferOf[$0] }, output: buffer,
                               inputSizes: step.inputSizes, outputSize: step.outputSize,
                               outputShape: step.outputShape, nodes: step.nodes))
        }
        return Compiled(steps: result, bufferSizes: sizes, outputBuffer: bufferOf[output])
    }

    /// Folds inference batch norm into the preceding layer's weights
    /// [outputs, ...] and bias [outputs] (created when absent).
    static func fold(_ bn: BatchNorm, weight: inout [Float], bias: inout [Float]?, outputs: Int) {
        let per = weight.count / outputs
        var b = bias ?? [Float](repeating: 0, count: outputs)
        let rstd = bn.runningRstd
        for c in 0..<outputs {
            let scale = bn.weight.data[c] * rstd[c]
            for k in 0..<per { weight[c * per + k] *= scale }
            b[c] = (b[c] - bn.runningMean.data[c]) * scale + bn.bias.data[c]
        }
        bias = b
    }
}
