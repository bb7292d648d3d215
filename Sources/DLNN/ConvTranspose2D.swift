import DLKernels
import DLTensor

/// Transpose convolution, learnable upsampling (PyTorch's `nn.ConvTranspose2d`;
/// Zeiler et al., 2010; Long et al., 2015). Each input pixel scales the filter
/// and adds it into the output at stride s; overlaps sum. It is the adjoint
/// (gradient) of a Conv2D with the same kernel, stride and padding, not its inverse.
///
/// Output size per axis: (n - 1) * s - 2p + f + output_padding, with
/// output_padding < s (it only picks among the sizes that a stride-s
/// convolution maps back to n).
///
/// Parameters: weight [in, out/groups, kh, kw] (PyTorch layout), bias [out].
public final class ConvTranspose2D: UnaryLayer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Size2
    public let outputPadding: Size2
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor?
    /// Names the layer in shape errors ("conv_transpose2d 'up1'" when built from model.json).
    public var label = "ConvTranspose2D"

    public init(
        inChannels: Int, outChannels: Int, kernelSize: Size2, stride: Size2 = Size2(1),
        padding: Size2 = Size2(0), outputPadding: Size2 = Size2(0), groups: Int = 1, bias: Bool = true,
        initializer: Initializer = .he, rng: inout SeededGenerator
    ) {
        precondition(inChannels > 0 && outChannels > 0 && groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "ConvTranspose2D: groups \(groups) must divide in \(inChannels) and out \(outChannels) channels")
        precondition(outputPadding.h < stride.h && outputPadding.w < stride.w,
                     "ConvTranspose2D: output_padding \(outputPadding) must be smaller than stride \(stride)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.weight = initializer.make([inChannels, outChannels / groups, kernelSize.h, kernelSize.w], rng: &rng)
        self.bias = bias ? Initializer.zeros.make([outChannels], rng: &rng) : nil
    }

    /// From model.json: out_channels, kernel_size, stride (1), padding (0),
    /// output_padding (0), groups (1), bias (true), init ("he"); in_channels is the input's C.
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: SeededGeneratorBox) throws {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw ModelError.shape("layer '\(spec.name)' (conv_transpose2d): expects one input [C, H, W], got \(inputShapes)")
        }
        let inC = inputShapes[0][0]
        let outC = try spec.int("out_channels")
        let groups = try spec.int("groups", default: 1)
        guard outC > 0, groups > 0, inC % groups == 0, outC % groups == 0 else {
            throw ModelError.architecture(
                "layer '\(spec.name)' (conv_transpose2d): groups \(groups) must be positive and divide in_channels \(inC) and out_channels \(outC)")
        }
        let stride = try Size2.from(spec, "stride", default: Size2(1), minimum: 1)
        let outputPadding = try Size2.from(spec, "output_padding", default: Size2(0), minimum: 0)
        guard outputPadding.h < stride.h, outputPadding.w < stride.w else {
            throw ModelError.architecture(
                "layer '\(spec.name)' (conv_transpose2d): output_padding \(outputPadding) must be smaller than stride \(stride)")
        }
        self.init(
            inChannels: inC, outChannels: outC,
            kernelSize: try Size2.from(spec, "kernel_size", minimum: 1), stride: stride,
            padding: try Size2.from(spec, "padding", default: Size2(0), minimum: 0),
            outputPadding: outputPadding, groups: groups,
            bias: try spec.bool("bias", default: true),
            initializer: try Initializer.from(spec), rng: &rng.rng)
        label = "conv_transpose2d '\(spec.name)'"
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// The geometry of the *output* image seen as the input of the adjoint
    /// convolution (its output size is the input's H x W).
    public func geometry(_ s: [Int]) throws -> ConvGeometry {
        guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
            throw ModelError.shape("\(label): expects an input [C, H, W], got \(s)")
        }
        guard s[0] == inChannels else {
            throw ModelError.shape("\(label): expects \(inChannels) input channels, got \(s[0]) (input \(s))")
        }
        let oh = (s[1] - 1) * stride.h - 2 * padding.h + kernelSize.h + outputPadding.h
        let ow = (s[2] - 1) * stride.w - 2 * padding.w + kernelSize.w + outputPadding.w
        guard oh > 0, ow > 0 else {
            throw ModelError.shape(
                "\(label): input \(s[1])x\(s[2]) with padding \(padding) gives an empty output \(oh)x\(ow)")
        }
        let g = ConvGeometry(
            channels: outChannels, height: oh, width: ow, kernelH: kernelSize.h, kernelW: kernelSize.w,
            strideH: stride.h, strideW: stride.w,
            padTop: padding.h, padBottom: padding.h, padLeft: padding.w, padRight: padding.w)
        precondition(g.outHeight == s[1] && g.outWidth == s[2], "ConvTranspose2D: adjoint geometry \(g) does not map back to \(s)")
        return g
    }

    /// [inC, H, W] -> [outC, (H-1)s - 2p + f + op, (W-1)s - 2p + f + op].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        let g = try geometry(inputShape)
        return [outChannels, g.height, g.width]
    }

    /// x [N, inC, H, W] -> [N, outC, OH, OW].
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] > 0, "ConvTranspose2D: expects [N, C, H, W] with N > 0, got \(x.shape)")
        let g: ConvGeometry
        do { g = try geometry(Array(x.shape.dropFirst())) } catch { preconditionFailure("\(error)") }
        return ConvTranspose2D.convTranspose2d(x, weight: weight, bias: bias, geometry: g, groups: groups)
    }

    /// The differentiable op: x [N, inC, H, W], weight [inC, outC/groups, kh, kw],
    /// bias [outC] -> [N, outC, g.height, g.width]. Nothing is cached.
    public static func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, groups: Int) -> Tensor {
        let n = x.shape[0], inC = weight.shape[0], outC = g.channels
        precondition(n > 0 && x.shape == [n, inC, g.outHeight, g.outWidth], "convTranspose2d: input \(x.shape) does not fit \(g)")
        precondition(weight.shape == [inC, outC / groups, g.kernelH, g.kernelW],
                     "convTranspose2d: weight \(weight.shape) does not fit \(g) with groups \(groups)")
        let count = n * outC * g.inputPlane
        let out = [Float](unsafeUninitializedCapacity: count) { buf, done in
            x.data.withUnsafeBufferPointer { px in
                weight.data.withUnsafeBufferPointer { pw in
                    withOptionalPointer(bias) { pb in
                        Kernels.convTranspose2dForward(
                            x: px.baseAddress!, weight: pw.baseAddress!, bias: pb, out: buf.baseAddress!,
                            batch: n, inChannels: inC, geometry: g, groups: groups)
                    }
                }
            }
            done = count
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.make("conv_transpose2d", shape: [n, outC, g.height, g.width], data: out, inputs: inputs) { gOut in
            convTranspose2dBackward(gOut, x: x, weight: weight, bias: bias, geometry: g, groups: groups)
        }
    }

    /// Backward of `convTranspose2d`: gOut [N, outC, OH, OW] -> gradients of x, weight, bias.
    static func convTranspose2dBackward(
        _ gOut: [Float], x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, groups: Int
    ) {
        let n = x.shape[0], inC = weight.shape[0]
        var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
        var gw = weight.requiresGrad ? [Float](repeating: 0, count: weight.count) : []
        var gb = bias?.requiresGrad == true ? [Float](repeating: 0, count: g.channels) : []
        x.data.withUnsafeBufferPointer { px in
            weight.data.withUnsafeBufferPointer { pw in
                gOut.withUnsafeBufferPointer { pg in
                    gx.withUnsafeMutableBufferPointer { dx in
                        gw.withUnsafeMutableBufferPointer { dw in
                            gb.withUnsafeMutableBufferPointer { db in
                                Kernels.convTranspose2dBackward(
                                    x: px.baseAddress!, weight: pw.baseAddress!, gradOut: pg.baseAddress!,
                                    batch: n, inChannels: inC, geometry: g, groups: groups,
                                    gradInput: dx.isEmpty ? nil : dx.baseAddress, gradWeight: dw.isEmpty ? nil : dw.baseAddress,
                                    gradBias: db.isEmpty ? nil : db.baseAddress)
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
