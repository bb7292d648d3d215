import DLKernels
import DLTensor

/// Fully connected layer, PyTorch's `nn.Linear`: y = x W^T + b, with
/// weight [out, in] and bias [out] so checkpoints interoperate.
///
/// model.json: `{"type": "dense", "attrs": {"units": 128, "bias": true, "init": "he"}}`
/// (`out_features` is accepted for `units`; `in_features`, when given, must
/// match the input).
public final class Linear: UnaryLayer {
    public let inFeatures: Int
    public let outFeatures: Int
    /// [out, in].
    public let weight: Tensor
    /// [out], or nil without bias.
    public let bias: Tensor?

    /// Fresh weights from `initializer` (He by default); the bias starts at 0.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, initializer: Initializer = .he,
                rng: inout SeededGenerator) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: features must be positive, got \(inFeatures) -> \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = initializer.make([outFeatures, inFeatures], rng: &rng)
        self.bias = bias ? Initializer.zeros.make([outFeatures], rng: &rng) : nil
    }

    /// Wraps existing tensors: weight [out, in], bias [out].
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be [out, in], got \(weight.shape)")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "Linear: bias \(bias!.shape) for weight \(weight.shape)")
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        self.weight = weight
        self.bias = bias
    }

    /// From a model.json node whose input has shape [in].
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        guard inputShapes.count == 1 else {
            throw ModelError.shape("dense '\(spec.name)' takes 1 input, got \(inputShapes.count)")
        }
        guard let key = ["units", "out_features"].first(where: { spec.attr($0) != nil }) else {
            throw ModelError.architecture("layer '\(spec.name)' (dense): attribute 'units' (or 'out_features') is required")
        }
        let units = try spec.int(key)
        guard units > 0 else { throw ModelError.architecture("dense '\(spec.name)': units must be positive, got \(units)") }
        let inShape = inputShapes[0]
        guard inShape.count == 1 || Linear.isSequence(inShape) else {
            throw ModelError.shape("dense '\(spec.name)' needs a flat input [features], got \(inShape); add a flatten layer before it")
        }
        if spec.attr("in_features") != nil {
            let declared = try spec.int("in_features")
            guard declared == inShape.last! else {
                throw ModelError.shape("dense '\(spec.name)': in_features \(declared) but the input has \(inShape.last!) features")
            }
        }
        self.init(inFeatures: inShape.last!, outFeatures: units, bias: try spec.bool("bias", default: true),
                  initializer: try Initializer.from(spec), rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }

    /// A variable-length sequence [T, in] (T = -1) is projected token by
    /// token; other multi-axis inputs (images) must be flattened first.
    static func isSequence(_ shape: [Int]) -> Bool { shape.count == 2 && shape[0] == -1 && shape[1] > 0 }

    /// [in] -> [out]; a sequence [-1, in] -> [-1, out] (shapes without batch).
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard inputShape.last == inFeatures, inputShape.count == 1 || Linear.isSequence(inputShape) else {
            throw ModelError.shape("dense expects input [\(inFeatures)] or a sequence [-1, \(inFeatures)], got \(inputShape)")
        }
        return Array(inputShape.dropLast()) + [outFeatures]
    }

    /// x [N, in] -> [N, out]. Leading dimensions fold into rows, so
    /// [B, T, in] -> [B, T, out] works for sequence models.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        x.linear(weight: weight, bias: bias)
    }
}

extension Tensor {
    /// x W^T + b as one fused op: x [..., in], weight [out, in], bias [out]
    /// -> [..., out]. Backward: gx = g W, gW = g^T x, gb = column sums of g.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        let x = self
        precondition(weight.rank == 2 && x.rank >= 1 && x.shape.last == weight.shape[1],
                     "linear: input \(x.shape) does not end in the weight's in-features \(weight.shape)")
        let (outF, inF) = (weight.shape[0], weight.shape[1])
        if let bias { precondition(bias.shape == [outF], "linear: bias \(bias.shape) for weight \(weight.shape)") }
        let rows = x.count / Swift.max(inF, 1)
        let y = Tensor.filled(rows * outF) { py in
            x.data.withUnsafeBufferPointer { px in
                weight.data.withUnsafeBufferPointer { pw in
                    withOptionalPointer(bias?.data) { pb in
                        Kernels.linearForward(x: px.baseAddress!, weight: pw.baseAddress!, bias: pb, y: py,
                                              n: rows, inFeatures: inF, outFeatures: outF)
                    }
                }
            }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.make("linear", shape: Array(x.shape.dropLast()) + [outF], data: y, inputs: inputs) { g in
            // One kernel call per wanted gradient; the others get nil.
            func backward(_ count: Int, _ which: Int) -> [Float] {
                if rows == 0 { return [Float](repeating: 0, count: count) }
                return Tensor.filled(count) { out in
                    g.withUnsafeBufferPointer { pg in
                        x.data.withUnsafeBufferPointer { px in
                            weight.data.withUnsafeBufferPointer { pw in
                                Kernels.linearBackward(
                                    x: px.baseAddress!, weight: pw.baseAddress!, gy: pg.baseAddress!,
                                    n: rows, inFeatures: inF, outFeatures: outF,
                                    gx: which == 0 ? out : nil, gWeight: which == 1 ? out : nil, gBias: which == 2 ? out : nil)
                            }
                        }
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(backward(x.count, 0)) }
            if weight.requiresGrad { weight.accumulateGrad(backward(weight.count, 1)) }
            if let bias, bias.requiresGrad { bias.accumulateGrad(backward(outF, 2)) }
        }
    }
}

/// Calls `body` with the array's base address, or nil for a nil array.
@inline(__always)
func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}
