import DLKernels
import DLTensor

/// 2-D convolution (cross-correlation, as PyTorch's `nn.Conv2d`; LeCun et al., 1998).
///
/// Output size per axis: floor((n + pad_before + pad_after - f) / s) + 1.
/// groups == 1 runs im2col + gemm per image (a 1x1 stride-1 convolution is a
/// plain gemm); groups == in_channels (> 1) is a depthwise convolution run by
/// direct loops; other groups run one gemm per group.
///
/// Parameters: weight [out, in/groups, kh, kw] (PyTorch layout), bias [out].
public final class Conv2D: UnaryLayer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Padding2D
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor?
    /// Names the layer in shape errors ("conv2d 'conv1'" when built from model.json).
    public var label = "Conv2D"

    public init(
        inChannels: Int, outChannels: Int, kernelSize: Size2, stride: Size2 = Size2(1),
        padding: Padding2D = .valid, groups: Int = 1, bias: Bool = true,
        initializer: Initializer = .he, rng: inout SeededGenerator
    ) {
        precondition(inChannels > 0 && outChannels > 0 && groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2D: groups \(groups) must divide in \(inChannels) and out \(outChannels) channels")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.groups = groups
        self.weight = initializer.make([outChannels, inChannels / groups, kernelSize.h, kernelSize.w], rng: &rng)
        self.bias = bias ? Initializer.zeros.make([outChannels], rng: &rng) : nil
    }

    /// From model.json: out_channels, kernel_size, stride (1), padding (0 = "valid"),
    /// groups (1), bias (true), init ("he"); in_channels is the input's C.
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: SeededGeneratorBox) throws {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw ModelError.shape("layer '\(spec.name)' (conv2d): expects one input [C, H, W], got \(inputShapes)")
        }
        let inC = inputShapes[0][0]
        let outC = try spec.int("out_channels")
        let groups = try spec.int("groups", default: 1)
        guard outC > 0, groups > 0, inC % groups == 0, outC % groups == 0 else {
            throw ModelError.architecture(
                "layer '\(spec.name)' (conv2d): groups \(groups) must be positive and divide in_channels \(inC) and out_channels \(outC)")
        }
        self.init(
            inChannels: inC, outChannels: outC,
            kernelSize: try Size2.from(spec, "kernel_size", minimum: 1),
            stride: try Size2.from(spec, "stride", default: Size2(1), minimum: 1),
            padding: try Padding2D.from(spec), groups: groups,
            bias: try spec.bool("bias", default: true),
            initializer: try Initializer.from(spec), rng: &rng.rng)
        label = "conv2d '\(spec.name)'"
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// The window over an input [C, H, W]; throws when C or the size does not fit.
    public func geometry(_ inputShape: [Int]) throws -> ConvGeometry {
        let g = try windowGeometry(layer: label, inputShape: inputShape, kernel: kernelSize, stride: stride, padding: padding)
        guard g.channels == inChannels else {
            throw ModelError.shape("\(label): expects \(inChannels) input channels, got \(g.channels) (input \(inputShape))")
        }
        return g
    }

    /// [C, H, W] -> [outC, OH, OW].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        let g = try geometry(inputShape)
        return [outChannels, g.outHeight, g.outWidth]
    }

    /// x [N, inC, H, W] -> [N, outC, OH, OW].
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] > 0, "Conv2D: expects [N, C, H, W] with N > 0, got \(x.shape)")
        let g: ConvGeometry
        do { g = try geometry(Array(x.shape.dropFirst())) } catch { preconditionFailure("\(error)") }
        return Conv2D.conv2d(x, weight: weight, bias: bias, geometry: g, groups: groups)
    }

    /// The differentiable op: x [N, C, H, W], weight [outC, C/groups, kh, kw],
    /// bias [outC] -> [N, outC, g.outHeight, g.outWidth]. Nothing is cached:
    /// backward re-reads x and weight (im2col is recomputed per image, cheaper
    /// than holding a 9x copy of the input until backward).
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, groups: Int) -> Tensor {
        let n = x.shape[0], outC = weight.shape[0]
        precondition(n > 0 && x.shape == [n, g.channels, g.height, g.width],
                     "conv2d: input \(x.shape) does not match geometry \(g)")
        precondition(weight.shape == [outC, g.channels / groups, g.kernelH, g.kernelW],
                     "conv2d: weight \(weight.shape) does not fit \(g) with groups \(groups)")
        precondition(bias == nil || bias!.shape == [outC], "conv2d: bias \(bias!.shape) for \(outC) channels")
        let depthwise = groups > 1 && groups == g.channels
        let count = n * outC * g.outputPlane
        let out = [Float](unsafeUninitializedCapacity: count) { buf, done in
            x.data.withUnsafeBufferPointer { px in
                weight.data.withUnsafeBufferPointer { pw in
                    withOptionalPointer(bias) { pb in
                        if depthwise {
                            Kernels.depthwiseForward(
                                x: px.baseAddress!, weight: pw.baseAddress!, bias: pb, out: buf.baseAddress!,
                                batch: n, geometry: g, multiplier: outC / g.channels)
                        } else {
                            Kernels.conv2dForward(
                                x: px.baseAddress!, weight: pw.baseAddress!, bias: pb, out: buf.baseAddress!,
                                batch: n, geometry: g, outChannels: outC, groups: groups)
                        }
                    }
                }
            }
            done = count
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.make("conv2d", shape: [n, outC, g.outHeight, g.outWidth], data: out, inputs: inputs) { gOut in
            conv2dBackward(gOut, x: x, weight: weight, bias: bias, geometry: g, groups: groups, depthwise: depthwise)
        }
    }

    /// Backward of `conv2d`: gOut [N, outC, OH, OW] -> gradients of x, weight, bias
    /// (each computed only when that tensor requires it).
    static func conv2dBackward(
        _ gOut: [Float], x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, groups: Int, depthwise: Bool
    ) {
        let n = x.shape[0], outC = weight.shape[0]
        var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
        var gw = weight.requiresGrad ? [Float](repeating: 0, count: weight.count) : []
        var gb = bias?.requiresGrad == true ? [Float](repeating: 0, count: outC) : []
        x.data.withUnsafeBufferPointer { px in
            weight.data.withUnsafeBufferPointer { pw in
                gOut.withUnsafeBufferPointer { pg in
                    gx.withUnsafeMutableBufferPointer { dx in
                        gw.withUnsafeMutableBufferPointer { dw in
                            gb.withUnsafeMutableBufferPointer { db in
                                if depthwise {
                                    Kernels.depthwiseBackward(
                                        x: px.baseAddress!, weight: pw.baseAddress!, gradOut: pg.baseAddress!,
                                        batch: n, geometry: g, multiplier: outC / g.channels,
                                        gradInput: dx.isEmpty ? nil : dx.baseAddress, gradWeight: dw.isEmpty ? nil : dw.baseAddress,
                                        gradBias: db.isEmpty ? nil : db.baseAddress)
                                } else {
                                    Kernels.conv2dBackward(
                                        x: px.baseAddress!, weight: pw.baseAddress!, gradOut: pg.baseAddress!,
                                        batch: n, geometry: g, outChannels: outC, groups: groups,
                                        gradInput: dx.isEmpty ? nil : dx.baseAddress, gradWeight: dw.isEmpty ? nil : dw.baseAddress,
                                        gradBias: db.isEmpty ? nil : db.baseAddress)
                                }
                            }
                        }
                    }
                }
            }
        }
        if x.requiresGrad { x.accumulateGrad(gx) }
        if weight.requiresGrad { weight.accumulateGrad(gw) }
        if let bias, bias.requiresGrad { bias.accumulateGrad(gb) }
    }
}

/// Calls `body` with a pointer to the tensor's values, or nil.
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.data.withUnsafeBufferPointer { body($0.baseAddress!) }
}
