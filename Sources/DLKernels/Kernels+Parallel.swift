import CBLAS
import Dispatch
import Foundation
import Synchronization

/// Data parallelism over the batch for the convolution and pooling kernels.
///
/// The thread budget is OpenBLAS's thread count (`Kernels.setBLASThreads`).
/// A batched kernel splits its images into that many contiguous chunks, runs
/// them on separate threads, and keeps BLAS single-threaded meanwhile, so the
/// two levels of threading never oversubscribe the cores. With one thread, or
/// one image, the chunk runs inline and BLAS keeps its own threads (batch-1
/// inference still uses every core inside gemm).
///
/// The BLAS thread count is process-wide; `singleThreadedBLAS` makes
/// overlapping parallel regions (two models running at once) safe: the later
/// one runs inline rather than oversubscribing.
extension Kernels {
    /// How many chunks `parallelChunks` uses for `n` items.
    public static func chunkCount(_ n: Int) -> Int {
        Swift.max(1, Swift.min(n, blasThreads))
    }

    /// Calls body(chunk, range) for `chunks` contiguous, near-equal ranges covering
    /// [0, n), concurrently when chunks > 1 (BLAS single-threaded meanwhile).
    public static func parallelChunks(_ n: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
        precondition(chunks >= 1, "parallelChunks: \(chunks) chunks")
        func range(_ c: Int) -> Range<Int> { (c * n / chunks)..<((c + 1) * n / chunks) }
        if chunks == 1 {
            body(0, 0..<n)
            return
        }
        singleThreadedBLAS.enter()
        defer { singleThreadedBLAS.leave() }
        // The warm helper threads when free, else GCD (nested or concurrent regions).
        if !ChunkPool.shared.run(chunks: chunks, { c in body(c, range(c)) }) {
            DispatchQueue.concurrentPerform(iterations: chunks) { c in body(c, range(c)) }
        }
    }

    /// Runs `body` on this thread alone: BLAS single-threaded and every
    /// parallel region inline. For work too small to pay for waking threads
    /// (batch-1 inference of a small network).
    public static func singleThreaded<R>(_ body: () -> R) -> R {
        singleThreadedBLAS.enter()
        defer { singleThreadedBLAS.leave() }
        return body()
    }

    /// Counts the parallel regions running in the process. While any runs,
    /// `blasThreads` is 1: a region that starts meanwhile (nested, or another
    /// caller's) runs inline, so concurrent callers never oversubscribe the
    /// cores and never change the configured budget.
    static let singleThreadedBLAS = RegionGate()

    final class RegionGate: Sendable {
        private let depth = Atomic<Int>(0)

        var active: Bool { depth.load(ordering: .relaxed) > 0 }
        func enter() { depth.add(1, ordering: .relaxed) }
        func leave() { depth.subtract(1, ordering: .relaxed) }
    }

    /// Per-chunk private accumulators for a reduction (weight and bias
    /// gradients): chunk 0 adds straight into `target`, the others into zeroed
    /// scratch that `finish` adds into `target`.
    struct ChunkAccumulators {
        let target: UnsafeMutablePointer<Float>?
        let count: Int
        let scratch: UnsafeMutablePointer<Float>?

        init(target: UnsafeMutablePointer<Float>?, count: Int, chunks: Int) {
            self.target = target
            self.count = count
            if target != nil && chunks > 1 {
                let s = UnsafeMutablePointer<Float>.allocate(capacity: (chunks - 1) * count)
                s.initialize(repeating: 0, count: (chunks - 1) * count)
                scratch = s
            } else {
                scratch = nil
            }
        }

        func pointer(_ chunk: Int) -> UnsafeMutablePointer<Float>? {
            guard let target else { return nil }
            return chunk == 0 ? target : scratch! + (chunk - 1) * count
        }

        /// Adds every chunk's scratch into the target and frees it.
        func finish(chunks: Int) {
            guard let target, let scratch else { return }
            for c in 1..<chunks { accumulate(scratch + (c - 1) * count, into: target, count) }
            scratch.deallocate()
        }
    }
}
