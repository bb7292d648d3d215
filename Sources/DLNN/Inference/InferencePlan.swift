import DLKernels
import DLTensor
import Foundation

/// A model compiled for inference, as ONNX Runtime and TensorRT do it: the
/// graph is rewritten once, then run on raw buffers with no autodiff, no
/// `Tensor` per layer and no allocation per call.
///
/// Rewrites (each only where the intermediate value has no other reader):
/// - batch norm after a convolution or dense layer is folded into its weights
///   and bias (running statistics: W' = W * gamma / sqrt(var + eps),
///   b' = (b - mean) * gamma / sqrt(var + eps) + beta);
/// - an activation after a convolution, dense layer, batch norm or residual
///   add runs on the output while it is still in cache;
/// - flatten and dropout (identity at inference) cost nothing: the value is
///   reused under another shape.
/// Layers without a fast step here run through their own forward (`Layer`).
///
/// Buffers are assigned once (a value's buffer is reused after its last
/// reader) and kept in workspaces that concurrent callers take from a pool,
/// so a worker thread reuses warm memory call after call.
///
/// The plan copies the weights it folds: build it after training, from the
/// weights to serve. Thread-safe: `run` may be called concurrently.
public final class InferencePlan: @unchecked Sendable {
    /// Input shape without batch.
    public let inputShape: [Int]
    /// Output shape without batch.
    public let outputShape: [Int]
    let steps: [Step]
    /// Values per batch row of each buffer.
    let bufferSizes: [Int]
    let inputBuffer: Int
    let outputBuffer: Int
    /// How the graph was rewritten, one line per step (for logs and tests).
    public let summary: [String]

    private let poolLock = NSLock()
    private var pool: [Workspace] = []

    /// Compiles `model` (its current weights are copied).
    public init(_ model: GraphModel) {
        let compiled = PlanBuilder(model).build()
        inputShape = model.spec.inputShape
        outputShape = model.outputShape
        steps = compiled.steps
        bufferSizes = compiled.bufferSizes
        inputBuffer = compiled.inputBuffer
        outputBuffer = compiled.outputBuffer
        summary = compiled.steps.map(\.description)
    }

    /// x [N, ...inputShape] -> [N, ...outputShape], as `GraphModel.infer`.
    public func run(_ x: Tensor) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape && x.rank >= 1,
                     "InferencePlan: input \(x.shape) does not match [N] + \(inputShape)")
        let n = x.shape[0]
        let outCount = n * outputShape.product
        if n == 0 { return Tensor(shape: [0] + outputShape, data: []) }
        let ws = takeWorkspace()
        defer { giveBack(ws) }
        ws.reserve(batch: n, sizes: bufferSizes)
        x.data.withUnsafeBufferPointer { ws.buffers[inputBuffer].update(from: $0.baseAddress!, count: $0.count) }
        // Fewer images than threads: the kernels would split each image across
        // threads, layer by layer, and waking them costs more than it saves at
        // these sizes (ResNetMini batch 1: 2.0 ms on two threads, 1.6 ms on one).
        // Batches split by image, which pays.
        if n < Kernels.blasThreads {
            Kernels.singleThreaded { for step in steps { step.run(batch: n, ws) } }
        } else {
            for step in steps { step.run(batch: n, ws) }
        }
        let out = [Float](UnsafeBufferPointer(start: ws.buffers[outputBuffer], count: outCount))
        return Tensor(shape: [n] + outputShape, data: out)
    }

    private func takeWorkspace() -> Workspace {
        poolLock.withLock { pool.popLast() } ?? Workspace(count: bufferSizes.count)
    }

    private func giveBack(_ ws: Workspace) {
        poolLock.withLock { pool.append(ws) }
    }
}

/// The buffers of one call: one per planned buffer, grown to the largest
/// batch seen, plus scratch (im2col columns, max-pool winners).
final class Workspace {
    var buffers: [UnsafeMutablePointer<Float>]
    var capacities: [Int]
    var scratch: UnsafeMutablePointer<Float>
    var scratchCapacity = 0
    var indices: UnsafeMutablePointer<Int32>
    var indexCapacity = 0

    init(count: Int) {
        buffers = (0..<count).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 1) }
        capacities = [Int](repeating: 1, count: count)
        scratch = .allocate(capacity: 1)
        indices = .allocate(capacity: 1)
    }

    deinit {
        for b in buffers { b.deallocate() }
        scratch.deallocate()
        indices.deallocate()
    }

    func reserve(batch: Int, sizes: [Int]) {
        for (i, size) in sizes.enumerated() where capacities[i] < batch * size {
            buffers[i].deallocate()
            buffers[i] = .allocate(capacity: batch * size)
            capacities[i] = batch * size
        }
    }

    func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        if scratchCapacity < count {
            scratch.deallocate()
            scratch = .allocate(capacity: count)
            scratchCapacity = count
        }
        return scratch
    }

    func indices(_ count: Int) -> UnsafeMutablePointer<Int32> {
        if indexCapacity < count {
            indices.deallocate()
            indices = .allocate(capacity: count)
            indexCapacity = count
        }
        return indices
    }
}
