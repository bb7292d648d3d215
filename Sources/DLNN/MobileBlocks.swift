import DLKernels
import DLTensor

/// Depthwise-separable convolution block (MobileNet; Howard et al., 2017):
/// a k x k depthwise convolution (stride s, padding (k-1)/2, no bias) + BN +
/// ReLU, then a 1x1 pointwise convolution to out channels (no bias) + BN + ReLU.
/// About 1/out + 1/k^2 of a full k x k convolution's multiply-adds.
///
/// Parameters "dw.weight" [C, 1, k, k], "dw_bn.weight", "dw_bn.bias" [C],
/// "pw.weight" [out, C, 1, 1], "pw_bn.weight", "pw_bn.bias" [out]; buffers
/// "dw_bn.running_mean", "dw_bn.running_var", "pw_bn.running_mean", "pw_bn.running_var".
public final class DepthwiseSeparable: UnaryLayer {
    public let dw: Conv2D
    public let dwBN: BatchNorm
    public let pw: Conv2D
    public let pwBN: BatchNorm

    public init(inChannels: Int, outChannels: Int, kernelSize: Int = 3, stride: Int = 1,
                initializer: Initializer = .he, bnEps: Float = 1e-5, bnMomentum: Float = 0.1,
                rng: inout SeededGenerator) {
        precondition(kernelSize % 2 == 1, "DepthwiseSeparable: kernel size \(kernelSize) must be odd")
        dw = Conv2D(inChannels: inChannels, outChannels: inChannels, kernelSize: Size2(kernelSize), stride: Size2(stride),
                    padding: .explicit(Size2((kernelSize - 1) / 2)), groups: inChannels, bias: false,
                    initializer: initializer, rng: &rng)
        dwBN = BatchNorm(numFeatures: inChannels, eps: bnEps, momentum: bnMomentum)
        pw = Conv2D(inChannels: inChannels, outChannels: outChannels, kernelSize: Size2(1), bias: false,
                    initializer: initializer, rng: &rng)
        pwBN = BatchNorm(numFeatures: outChannels, eps: bnEps, momentum: bnMomentum)
    }

    /// From model.json: out_channels, stride (1), kernel_size (3, odd), init ("he"),
    /// bn_eps (1e-5), bn_momentum (0.1); in_channels is the input's C.
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: SeededGeneratorBox) throws {
        let b = try MobileBlockAttributes(spec, inputShapes)
        self.init(inChannels: b.inChannels, outChannels: b.outChannels, kernelSize: b.kernelSize, stride: b.stride,
                  initializer: b.initializer, bnEps: b.bnEps, bnMomentum: b.bnMomentum, rng: &rng.rng)
        dw.label = "depthwise_separable '\(spec.name)' (dw)"
        pw.label = "depthwise_separable '\(spec.name)' (pw)"
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("dw", dw.parameters) + prefixed("dw_bn", dwBN.parameters)
            + prefixed("pw", pw.parameters) + prefixed("pw_bn", pwBN.parameters)
    }

    public var buffers: [(name: String, tensor: Tensor)] {
        prefixed("dw_bn", dwBN.buffers) + prefixed("pw_bn", pwBN.buffers)
    }

    /// [C, H, W] -> [out, OH, OW] with OH = floor((H - 1) / s) + 1.
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        try pw.outputShape(try dw.outputShape(inputShape))
    }

    /// x [N, C, H, W] -> [N, out, OH, OW]. Backward runs through the sub-layers'
    /// own ops (their caches are the BN statistics and pooling indices they keep).
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        let h = dwBN(dw(x, ctx), ctx).relu()
        return pwBN(pw(h, ctx), ctx).relu()
    }
}

/// MobileNetV2's inverted residual block with a linear bottleneck
/// (Sandler et al., 2018): a 1x1 expansion to t * C channels + BN + ReLU6
/// (skipped when t = 1), a k x k depthwise convolution at stride s + BN + ReLU6,
/// a 1x1 linear projection to out channels + BN (no activation), and the input
/// added back when s = 1 and C = out. Convolutions have no bias (BN follows).
///
/// Parameters "expand.weight" [tC, C, 1, 1], "expand_bn.weight", "expand_bn.bias",
/// "dw.weight" [tC, 1, k, k], "dw_bn.*", "project.weight" [out, tC, 1, 1],
/// "project_bn.*"; buffers "<bn>.running_mean", "<bn>.running_var".
public final class InvertedResidual: UnaryLayer {
    public let expand: Conv2D?
    public let expandBN: BatchNorm?
    public let dw: Conv2D
    public let dwBN: BatchNorm
    public let project: Conv2D
    public let projectBN: BatchNorm
    /// Whether the input is added to the output (stride 1 and in == out).
    public let residual: Bool
    /// Names the layer in shape errors.
    public var label = "InvertedResidual"

    public init(inChannels: Int, outChannels: Int, expansion: Int = 6, kernelSize: Int = 3, stride: Int = 1,
                initializer: Initializer = .he, bnEps: Float = 1e-5, bnMomentum: Float = 0.1,
                rng: inout SeededGenerator) {
        precondition(expansion >= 1 && kernelSize % 2 == 1,
                     "InvertedResidual: expansion \(expansion) must be >= 1 and kernel size \(kernelSize) odd")
        let hidden = inChannels * expansion
        if expansion == 1 {
            expand = nil
            expandBN = nil
        } else {
            expand = Conv2D(inChannels: inChannels, outChannels: hidden, kernelSize: Size2(1), bias: false,
                            initializer: initializer, rng: &rng)
            expandBN = BatchNorm(numFeatures: hidden, eps: bnEps, momentum: bnMomentum)
        }
        dw = Conv2D(inChannels: hidden, outChannels: hidden, kernelSize: Size2(kernelSize), stride: Size2(stride),
                    padding: .explicit(Size2((kernelSize - 1) / 2)), groups: hidden, bias: false,
                    initializer: initializer, rng: &rng)
        dwBN = BatchNorm(numFeatures: hidden, eps: bnEps, momentum: bnMomentum)
        project = Conv2D(inChannels: hidden, outChannels: outChannels, kernelSize: Size2(1), bias: false,
                         initializer: initializer, rng: &rng)
        projectBN = BatchNorm(numFeatures: outChannels, eps: bnEps, momentum: bnMomentum)
        residual = stride == 1 && inChannels == outChannels
    }

    /// From model.json: out_channels, stride (1), expansion (6), kernel_size (3, odd),
    /// init ("he"), bn_eps (1e-5), bn_momentum (0.1); in_channels is the input's C.
    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: SeededGeneratorBox) throws {
        let b = try MobileBlockAttributes(spec, inputShapes)
        let expansion = try spec.int("expansion", default: 6)
        guard expansion >= 1 else {
            throw ModelError.architecture("layer '\(spec.name)' (\(spec.type)): expansion must be at least 1, got \(expansion)")
        }
        self.init(inChannels: b.inChannels, outChannels: b.outChannels, expansion: expansion, kernelSize: b.kernelSize,
                  stride: b.stride, initializer: b.initializer, bnEps: b.bnEps, bnMomentum: b.bnMomentum, rng: &rng.rng)
        label = "inverted_residual '\(spec.name)'"
        expand?.label = "\(label) (expand)"
        dw.label = "\(label) (dw)"
        project.label = "\(label) (project)"
    }

    public var parameters: [(name: String, tensor: Tensor)] {
        prefixed("expand", expand?.parameters ?? []) + prefixed("expand_bn", expandBN?.parameters ?? [])
            + prefixed("dw", dw.parameters) + prefixed("dw_bn", dwBN.parameters)
            + prefixed("project", project.parameters) + prefixed("project_bn", projectBN.parameters)
    }

    public var buffers: [(name: String, tensor: Tensor)] {
        prefixed("expand_bn", expandBN?.buffers ?? []) + prefixed("dw_bn", dwBN.buffers)
            + prefixed("project_bn", projectBN.buffers)
    }

    /// [C, H, W] -> [out, OH, OW] with OH = floor((H - 1) / s) + 1.
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        var s = inputShape
        if let expand { s = try expand.outputShape(s) } else { s = try checkChannels(s, dw.inChannels) }
        return try project.outputShape(try dw.outputShape(s))
    }

    /// x [N, C, H, W] -> [N, out, OH, OW].
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        var h = x
        if let expand, let expandBN { h = expandBN(expand(h, ctx), ctx).relu6() }
        h = dwBN(dw(h, ctx), ctx).relu6()
        h = projectBN(project(h, ctx), ctx)
        return residual ? h + x : h
    }

    private func checkChannels(_ s: [Int], _ c: Int) throws -> [Int] {
        guard s.count == 3, s[0] == c else {
            throw ModelError.shape("\(label): expects an input [\(c), H, W], got \(s)")
        }
        return s
    }
}

/// The attributes both mobile blocks read, with their checks.
struct MobileBlockAttributes {
    let inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int
    let initializer: Initializer, bnEps: Float, bnMomentum: Float

    init(_ spec: LayerSpec, _ inputShapes: [[Int]]) throws {
        guard inputShapes.count == 1, inputShapes[0].count == 3, inputShapes[0].allSatisfy({ $0 > 0 }) else {
            throw ModelError.shape("layer '\(spec.name)' (\(spec.type)): expects one input [C, H, W], got \(inputShapes)")
        }
        inChannels = inputShapes[0][0]
        outChannels = try spec.int("out_channels")
        kernelSize = try spec.int("kernel_size", default: 3)
        stride = try spec.int("stride", default: 1)
        initializer = try Initializer.from(spec)
        bnEps = try spec.float("bn_eps", default: 1e-5)
        bnMomentum = try spec.float("bn_momentum", default: 0.1)
        guard outChannels > 0, kernelSize > 0, kernelSize % 2 == 1, stride > 0 else {
            throw ModelError.architecture(
                "layer '\(spec.name)' (\(spec.type)): out_channels and stride must be positive and kernel_size odd, got \(outChannels), \(stride), \(kernelSize)")
        }
        guard bnEps > 0, bnEps.isFinite, bnMomentum >= 0, bnMomentum <= 1 else {
            throw ModelError.architecture("layer '\(spec.name)' (\(spec.type)): bn_eps must be positive and bn_momentum in [0, 1]")
        }
    }
}

/// Sub-layer tensors under "prefix.name".
func prefixed(_ prefix: String, _ list: [(name: String, tensor: Tensor)]) -> [(name: String, tensor: Tensor)] {
    list.map { ("\(prefix).\($0.name)", $0.tensor) }
}
