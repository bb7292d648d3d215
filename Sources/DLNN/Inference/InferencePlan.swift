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
    /// Values per batch row of each buffer. Buffer 0 holds the input.
    let bufferSizes: [Int]
    let outputBuffer: Int
    /// How the graph was rewritten, one line per step (for logs and tests).
    public let summary: [String]

    private let poolLock = NSLock()
    private var pool: [Workspace] = []

    /// Rows run together through the whole network: a batch is cut into
    /// pieces this large, so that a layer's input and output stay in the
    /// core's cache (about 512 KiB together, an L2) instead of streaming a whole
    /// batch through memory layer after layer, and the pieces are shared
    /// among threads. (`make bench`, ResNetMini batch 64 on two threads: 856-877
    /// images/s run layer by layer, 923-1157 in pieces; noisy runs.)
    public let rowsPerPiece: Int
    /// Whether one image is worth splitting across threads, layer by layer:
    /// only for networks of at least 10 million multiply-adds per image.
    /// (ResNetMini, 55 million: batch 1 on two threads 1.1-1.5 ms against
    /// 1.5-1.9 ms on one; LeNet, 0.4 million: 0.18 ms against 0.09 ms.)
    public let splitsImages: Bool

    /// Compiles `model` (its current weights are copied). `rowsPerPiece`
    /// overrides the cache-sized choice (tests).
    public init(_ model: GraphModel, rowsPerPiece: Int? = nil) {
        precondition(model.spec.inputs.count == 1 && model.spec.outputs.count == 1,
                     "InferencePlan: compiles models with one input and one output; run \(model.spec.inputs.map(\.name)) -> \(model.spec.outputs) through GraphModel.infer(inputs:)")
        let compiled = PlanBuilder(model).build()
        inputShape = model.spec.inputShape
        outputShape = model.outputShape
        steps = compiled.steps
        bufferSizes = compiled.bufferSizes
        outputBuffer = compiled.outputBuffer
        summary = compiled.steps.map(\.description)
        splitsImages = compiled.steps.reduce(0) { $0 + $1.multiplyAdds } >= 10_000_000
        let widest = compiled.steps.map { $0.outputSize + ($0.inputSizes.max() ?? 0) }.max() ?? 1
        self.rowsPerPiece = max(1, rowsPerPiece ?? min(64, (512 << 10) / (4 * max(1, widest))))
    }

    /// x [N, ...inputShape] -> [N, ...outputShape], as `GraphModel.infer`.
    ///
    /// Pieces of `rowsPerPiece` rows run one after another on a thread, and
    /// the pieces are shared among the BLAS thread budget's threads, each with
    /// its own workspace; inside a piece every kernel runs single-threaded.
    /// A single piece (batch 1) runs on this thread alone unless the network
    /// is large enough for its layers to be split (`splitsImages`).
    public func run(_ x: Tensor) -> Tensor {
        precondition(Array(x.shape.dropFirst()) == inputShape && x.rank >= 1,
                     "InferencePlan: input \(x.shape) does not match [N] + \(inputShape)")
        let n = x.shape[0]
        let rowIn = inputShape.product, rowOut = outputShape.product
        if n == 0 { return Tensor(shape: [0] + outputShape, data: []) }
        // Pieces of at most rowsPerPiece rows, as many as a multiple of the
        // threads (so that they share the work evenly), of equal size.
        let threads = Kernels.blasThreads
        var pieces = (n + rowsPerPiece - 1) / rowsPerPiece
        if threads > 1 { pieces = min(n, (pieces + threads - 1) / threads * threads) }
        let pieceRows = (n + pieces - 1) / pieces
        pieces = (n + pieceRows - 1) / pieceRows
        var out = [Float](repeating: 0, count: n * rowOut)
        x.data.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                let (src, dst) = (px.baseAddress!, po.baseAddress!)
                let work = { (range: Range<Int>) in
                    let ws = self.takeWorkspace()
                    defer { self.giveBack(ws) }
                    for p in range {
                        let lo = p * pieceRows, rows = min(n, lo + pieceRows) - lo
                        self.runPiece(src + lo * rowIn, rows: rows, into: dst + lo * rowOut, ws)
                    }
                }
                let chunks = Kernels.chunkCount(pieces)
                if chunks > 1 {
                    Kernels.parallelChunks(pieces, chunks: chunks) { _, range in work(range) }
                } else if threads > 1 && !splitsImages {
                    Kernels.singleThreaded { work(0..<pieces) }
                } else {
                    work(0..<pieces)
                }
            }
        }
        return Tensor(shape: [n] + outputShape, data: out)
    }

    /// Runs `rows` rows from `x` into `y` through every step.
    private func runPiece(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, _ ws: Workspace) {
        ws.reserve(batch: rows, sizes: bufferSizes)
        ws.buffers[0].update(from: x, count: rows * inputShape.product)
        for step in steps { step.run(batch: rows, ws) }
        y.update(from: ws.buffers[outputBuffer], count: rows * outputShape.product)
    }

    /// Median milliseconds of each step on one input row (batch 1), over
    /// `repeats` runs, with the step's description: where batch-1 latency
    /// goes (`make bench` prints it). Runs on the calling thread with the
    /// current thread budget, as `run` does for one row.
    public func profileSteps(_ x: Tensor, repeats: Int) -> [(step: String, milliseconds: Double)] {
        precondition(x.shape == [1] + inputShape, "profileSteps: one row of \(inputShape)")
        let ws = takeWorkspace()
        defer { giveBack(ws) }
        var times = [[Double]](repeating: [], count: steps.count)
        func measure() {
            ws.reserve(batch: 1, sizes: bufferSizes)
            x.data.withUnsafeBufferPointer { ws.buffers[0].update(from: $0.baseAddress!, count: $0.count) }
            for (i, step) in steps.enumerated() {
                let t = DispatchTime.now().uptimeNanoseconds
                step.run(batch: 1, ws)
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
        }
        for _ in 0..<repeats {
            if Kernels.blasThreads > 1 && !splitsImages { Kernels.singleThreaded(measure) } else { measure() }
        }
        return zip(summary, times).map { ($0, $1.sorted()[$1.count / 2]) }
    }

    private func takeWorkspace() -> Workspace {
        poolLock.withLock { pool.popLast() } ?? Workspace(count: bufferSizes.count)
    }

    private func giveBack(_ ws: Workspace) {
        poolLock.withLock { pool.append(ws) }
    }
}

/// The buffers of one call: one per planned buffer, grown to the largest
/// piece seen, plus the max-pool winners (which inference does not need but
/// the kernel writes).
final class Workspace {
    var buffers: [UnsafeMutablePointer<Float>]
    var capacities: [Int]
    var indices: UnsafeMutablePointer<Int32>
    var indexCapacity = 0

    init(count: Int) {
        buffers = (0..<count).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 1) }
        capacities = [Int](repeating: 1, count: count)
        indices = .allocate(capacity: 1)
    }

    deinit {
        for b in buffers { b.deallocate() }
        indices.deallocate()
    }

    func reserve(batch: Int, sizes: [Int]) {
        for (i, size) in sizes.enumerated() where capacities[i] < batch * size {
            buffers[i].deallocate()
            buffers[i] = .allocate(capacity: batch * size)
            capacities[i] = batch * size
        }
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
