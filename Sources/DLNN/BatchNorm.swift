import DLKernels
import DLTensor
import Foundation

/// Batch normalization (Ioffe & Szegedy, 2015), PyTorch's BatchNorm1d/2d:
/// y = (x - mean) / sqrt(var + eps) * gamma + beta per channel (dim 1).
///
/// Training normalizes with the batch's mean and biased variance and updates
/// running_mean / running_var as PyTorch does:
/// running = (1 - momentum) * running + momentum * batch, with the unbiased
/// variance (m / (m - 1), m = N * H * W) for running_var. The course notes'
/// "exponentially weighted average" with beta is the same rule with
/// beta = 1 - momentum. Inference normalizes with the running statistics.
///
/// Parameters weight (gamma, init 1) and bias (beta, init 0); buffers
/// running_mean (init 0) and running_var (init 1), all [C].
///
/// model.json: `{"type": "batch_norm", "attrs": {"eps": 1e-5, "momentum": 0.1}}`
/// (`num_features`, when given, must match the input's channels).
public final class BatchNorm: UnaryLayer {
    public let numFeatures: Int
    public let eps: Float
    public let momentum: Float
    /// gamma [C].
    public let weight: Tensor
    /// beta [C].
    public let bias: Tensor
    /// [C].
    public let runningMean: Tensor
    /// [C].
    public let runningVar: Tensor

    public init(numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        precondition(numFeatures > 0, "BatchNorm: numFeatures must be positive, got \(numFeatures)")
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        weight = Tensor(repeating: 1, shape: [numFeatures])
        weight.requiresGrad = true
        bias = Tensor(zeros: [numFeatures], requiresGrad: true)
        runningMean = Tensor(zeros: [numFeatures])
        runningVar = Tensor(repeating: 1, shape: [numFeatures])
    }

    /// From a model.json node whose input is [C] or [C, H, W] (also [C, L]).
    public convenience init(spec: LayerSpec, inputShapes: [[Int]]) throws {
        guard inputShapes.count == 1 else {
            throw ModelError.shape("batch_norm '\(spec.name)' takes 1 input, got \(inputShapes.count)")
        }
        let shape = inputShapes[0]
        guard (1...3).contains(shape.count) else {
            throw ModelError.shape("batch_norm '\(spec.name)' needs an input [C], [C, L] or [C, H, W], got \(shape)")
        }
        if spec.attr("num_features") != nil {
            let declared = try spec.int("num_features")
            guard declared == shape[0] else {
                throw ModelError.shape("batch_norm '\(spec.name)': num_features \(declared) but the input has \(shape[0]) channels")
            }
        }
        let eps = try spec.float("eps", default: 1e-5)
        let momentum = try spec.float("momentum", default: 0.1)
        guard eps > 0, eps.isFinite else { throw ModelError.architecture("batch_norm '\(spec.name)': eps must be positive, got \(eps)") }
        guard momentum >= 0, momentum <= 1 else {
            throw ModelError.architecture("batch_norm '\(spec.name)': momentum must be in [0, 1], got \(momentum)")
        }
        self.init(numFeatures: shape[0], eps: eps, momentum: momentum)
    }

    public var parameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
    public var buffers: [(name: String, tensor: Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    /// 1 / sqrt(running_var + eps) per channel: what inference divides by.
    public var runningRstd: [Float] { runningVar.data.map { 1 / Foundation.sqrt($0 + eps) } }

    /// [C, ...] -> the same shape (shapes without batch).
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard (1...3).contains(inputShape.count), inputShape[0] == numFeatures else {
            throw ModelError.shape("batch_norm with \(numFeatures) channels got input \(inputShape)")
        }
        return inputShape
    }

    /// x [N, C] or [N, C, H, W] -> the same shape. Training (ctx.training):
    /// batch statistics, running statistics updated. Inference: running
    /// statistics, nothing updated.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank >= 2 && x.rank <= 4 && x.shape[1] == numFeatures,
                     "BatchNorm(\(numFeatures)): input \(x.shape) is not [N, \(numFeatures), ...]")
        let (n, c) = (x.shape[0], numFeatures)
        let s = x.shape.dropFirst(2).product
        let training = ctx.training
        // Cached for the backward: per-channel mean and 1 / sqrt(var + eps).
        var mean = [Float](repeating: 0, count: c)
        var rstd = [Float](repeating: 0, count: c)
        if training {
            precondition(n * s > 0, "BatchNorm: training needs at least one value per channel, got \(x.shape)")
            var variance = [Float](repeating: 0, count: c)
            x.data.withUnsafeBufferPointer { px in
                Kernels.batchNormStatistics(px.baseAddress!, n: n, c: c, s: s,
                                            mean: &mean, variance: &variance)
            }
            let m = Float(n * s)
            // Unbiased variance for the running estimate; with one value per
            // channel there is none, and the biased one (0) is used.
            let unbias = m > 1 ? m / (m - 1) : 1
            for j in 0..<c {
                rstd[j] = 1 / Foundation.sqrt(variance[j] + eps)
                runningMean.data[j] = (1 - momentum) * runningMean.data[j] + momentum * mean[j]
                runningVar.data[j] = (1 - momentum) * runningVar.data[j] + momentum * variance[j] * unbias
            }
        } else {
            mean = runningMean.data
            rstd = runningRstd
        }
        let (gamma, beta) = (weight, bias)
        let y = Tensor.filled(x.count) { py in
            x.data.withUnsafeBufferPointer { px in
                gamma.data.withUnsafeBufferPointer { pg in
                    beta.data.withUnsafeBufferPointer { pb in
                        Kernels.batchNormNormalize(px.baseAddress!, py, n: n, c: c, s: s, mean: mean, rstd: rstd,
                                                   gamma: pg.baseAddress!, beta: pb.baseAddress!)
                    }
                }
            }
        }
        return Tensor.make("batch_norm", shape: x.shape, data: y, inputs: [x, gamma, beta]) { g in
            var gGamma = [Float](repeating: 0, count: c), gBeta = gGamma
            var gx: [Float] = x.requiresGrad && x.count > 0 ? [Float](repeating: 0, count: x.count) : []
            if x.count > 0 {
                x.data.withUnsafeBufferPointer { px in
                    g.withUnsafeBufferPointer { pgy in
                        gamma.data.withUnsafeBufferPointer { pg in
                            gx.withUnsafeMutableBufferPointer { pgx in
                                Kernels.batchNormBackward(
                                    x: px.baseAddress!, gy: pgy.baseAddress!, n: n, c: c, s: s,
                                    mean: mean, rstd: rstd, gamma: pg.baseAddress!, batchStatistics: training,
                                    gx: x.requiresGrad ? pgx.baseAddress : nil, gGamma: &gGamma, gBeta: &gBeta)
                            }
                        }
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(gx.isEmpty ? [Float](repeating: 0, count: x.count) : gx) }
            gamma.accumulateGrad(gGamma)
            beta.accumulateGrad(gBeta)
        }
    }
}
