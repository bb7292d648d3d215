import DLKernels
import DLTensor

/// Max pooling (PyTorch's `nn.MaxPool2d`, plus TF-style "same" padding for
/// inception branches). Padding counts as -inf; explicit padding may be at
/// most half the kernel, so every window holds an input value. The stride
/// defaults to the kernel size. No parameters.
public final class MaxPool2D: UnaryLayer {
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Padding2D
    /// Names the layer in shape errors ("max_pool2d 'pool1'" when built from model.json).
    public var label = "MaxPool2D"

    public init(kernelSize: Size2, stride: Size2? = nil, padding: Padding2D = .valid) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    /// From model.json: kernel_size, stride (= kernel_size), padding (0, "valid", "same").
    public convenience init(spec: LayerSpec) throws {
        let k = try Size2.from(spec, "kernel_size", minimum: 1)
        let padding = try Padding2D.from(spec)
        if case .explicit(let p) = padding, p.h > k.h / 2 || p.w > k.w / 2 {
            throw ModelError.architecture("layer '\(spec.name)' (max_pool2d): padding \(p) must be at most half the kernel \(k)")
        }
        self.init(kernelSize: k, stride: try Size2.from(spec, "stride", default: k, minimum: 1), padding: padding)
        label = "max_pool2d '\(spec.name)'"
    }

    public func geometry(_ inputShape: [Int]) throws -> ConvGeometry {
        try windowGeometry(layer: label, inputShape: inputShape, kernel: kernelSize, stride: stride, padding: padding)
    }

    /// [C, H, W] -> [C, OH, OW].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        let g = try geometry(inputShape)
        return [g.channels, g.outHeight, g.outWidth]
    }

    /// x [N, C, H, W] -> [N, C, OH, OW]. Caches `argmax` (the winning input
    /// offset per output) for backward.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] > 0, "MaxPool2D: expects [N, C, H, W] with N > 0, got \(x.shape)")
        let g: ConvGeometry
        do { g = try geometry(Array(x.shape.dropFirst())) } catch { preconditionFailure("\(error)") }
        let planes = x.shape[0] * x.shape[1], count = planes * g.outputPlane
        var argmax = [Int32](repeating: 0, count: count)
        let out = [Float](unsafeUninitializedCapacity: count) { buf, done in
            x.data.withUnsafeBufferPointer { px in
                argmax.withUnsafeMutableBufferPointer { pa in
                    Kernels.maxPoolForward(x: px.baseAddress!, out: buf.baseAddress!, argmax: pa.baseAddress!, planes: planes, geometry: g)
                }
            }
            done = count
        }
        return Tensor.make("max_pool2d", shape: [x.shape[0], x.shape[1], g.outHeight, g.outWidth], data: out, inputs: [x]) { gOut in
            // Backward: gradInput[argmax] += gOut.
            x.accumulateGrad { dx in
                gOut.withUnsafeBufferPointer { pg in
                    argmax.withUnsafeBufferPointer { pa in
                        Kernels.maxPoolBackward(gradOut: pg.baseAddress!, argmax: pa.baseAddress!, gradInput: dx.baseAddress!,
                                                planes: planes, geometry: g)
                    }
                }
            }
        }
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d` with count_include_pad=True:
/// zeros from explicit padding count in the divisor kh * kw). The stride
/// defaults to the kernel size. No parameters.
public final class AvgPool2D: UnaryLayer {
    public let kernelSize: Size2
    public let stride: Size2
    public let padding: Size2
    /// Names the layer in shape errors ("avg_pool2d 'pool1'" when built from model.json).
    public var label = "AvgPool2D"

    public init(kernelSize: Size2, stride: Size2? = nil, padding: Size2 = Size2(0)) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    /// From model.json: kernel_size, stride (= kernel_size), padding (0).
    public convenience init(spec: LayerSpec) throws {
        let k = try Size2.from(spec, "kernel_size", minimum: 1)
        let p = try Size2.from(spec, "padding", default: Size2(0), minimum: 0)
        guard p.h <= k.h / 2, p.w <= k.w / 2 else {
            throw ModelError.architecture("layer '\(spec.name)' (avg_pool2d): padding \(p) must be at most half the kernel \(k)")
        }
        self.init(kernelSize: k, stride: try Size2.from(spec, "stride", default: k, minimum: 1), padding: p)
        label = "avg_pool2d '\(spec.name)'"
    }

    public func geometry(_ inputShape: [Int]) throws -> ConvGeometry {
        try windowGeometry(layer: label, inputShape: inputShape, kernel: kernelSize, stride: stride,
                           padding: padding == Size2(0) ? .valid : .explicit(padding))
    }

    /// [C, H, W] -> [C, OH, OW].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        let g = try geometry(inputShape)
        return [g.channels, g.outHeight, g.outWidth]
    }

    /// x [N, C, H, W] -> [N, C, OH, OW]. Nothing cached.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] > 0, "AvgPool2D: expects [N, C, H, W] with N > 0, got \(x.shape)")
        let g: ConvGeometry
        do { g = try geometry(Array(x.shape.dropFirst())) } catch { preconditionFailure("\(error)") }
        let planes = x.shape[0] * x.shape[1], count = planes * g.outputPlane
        let out = [Float](unsafeUninitializedCapacity: count) { buf, done in
            x.data.withUnsafeBufferPointer { px in
                Kernels.avgPoolForward(x: px.baseAddress!, out: buf.baseAddress!, planes: planes, geometry: g)
            }
            done = count
        }
        return Tensor.make("avg_pool2d", shape: [x.shape[0], x.shape[1], g.outHeight, g.outWidth], data: out, inputs: [x]) { gOut in
            // Backward: every input of a window gets gOut / (kh * kw).
            x.accumulateGrad { dx in
                gOut.withUnsafeBufferPointer { pg in
                    Kernels.avgPoolBackward(gradOut: pg.baseAddress!, gradInput: dx.baseAddress!, planes: planes, geometry: g)
                }
            }
        }
    }
}

/// Global average pooling (Lin et al., 2014, "Network in Network"): the mean
/// of each channel's plane. No parameters.
public final class GlobalAvgPool: UnaryLayer {
    /// Names the layer in shape errors.
    public var label = "GlobalAvgPool"

    public init() {}

    /// From model.json (no attributes).
    public convenience init(spec: LayerSpec) {
        self.init()
        label = "global_avg_pool '\(spec.name)'"
    }

    /// [C, H, W] -> [C].
    public func outputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
            throw ModelError.shape("\(label): expects an input [C, H, W], got \(s)")
        }
        return [s[0]]
    }

    /// x [N, C, H, W] -> [N, C].
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] > 0, "GlobalAvgPool: expects [N, C, H, W] with N > 0, got \(x.shape)")
        let planes = x.shape[0] * x.shape[1], size = x.shape[2] * x.shape[3]
        let out = [Float](unsafeUninitializedCapacity: planes) { buf, done in
            x.data.withUnsafeBufferPointer { px in
                Kernels.globalAvgPoolForward(x: px.baseAddress!, out: buf.baseAddress!, planes: planes, size: size)
            }
            done = planes
        }
        return Tensor.make("global_avg_pool", shape: [x.shape[0], x.shape[1]], data: out, inputs: [x]) { gOut in
            // Backward: gradInput[n, c, :, :] += gOut[n, c] / (H * W).
            x.accumulateGrad { dx in
                gOut.withUnsafeBufferPointer { pg in
                    Kernels.globalAvgPoolBackward(gradOut: pg.baseAddress!, gradInput: dx.baseAddress!, planes: planes, size: size)
                }
            }
        }
    }
}

/// Flattens everything but the batch: the bridge from convolutional to dense
/// layers. Row-major (C, H, W) order, as PyTorch's `nn.Flatten`. No parameters.
public final class Flatten: UnaryLayer {
    /// Names the layer in shape errors.
    public var label = "Flatten"

    public init() {}

    /// From model.json (no attributes).
    public convenience init(spec: LayerSpec) {
        self.init()
        label = "flatten '\(spec.name)'"
    }

    /// [d1, d2, ...] -> [d1 * d2 * ...].
    public func outputShape(_ s: [Int]) throws -> [Int] {
        guard !s.isEmpty, s.allSatisfy({ $0 > 0 }) else {
            throw ModelError.shape("\(label): expects a non-empty input shape, got \(s)")
        }
        return [s.product]
    }

    /// x [N, ...] -> [N, rest]; the gradient is reshaped back.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank >= 1, "Flatten: expects [N, ...], got \(x.shape)")
        return x.reshaped([x.shape[0], x.shape.dropFirst().product])
    }
}
