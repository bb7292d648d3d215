import Dispatch
import Foundation
import Synchronization

/// Data parallelism for the kernels: images of a batch, blocks of one
/// image, parts of a large product.
///
/// The thread budget is `Kernels.setBLASThreads`'s count (OpenBLAS itself
/// always runs on one thread). A parallel kernel splits its work into
/// chunks that run on the warm helper threads of `ChunkPool` and the
/// caller. The budget is process-wide; `activeRegions` makes overlapping
/// parallel regions (nested, or two models running at once) safe: while
/// one runs, the budget reads 1, so a later one runs inline rather than
/// oversubscribing the cores.
extension Kernels {
    /// How many chunks `parallelChunks` uses for `n` items.
    public static func chunkCount(_ n: Int) -> Int {
        Swift.max(1, Swift.min(n, blasThreads))
    }

    /// Calls body(chunk, range) for `chunks` contiguous, near-equal ranges covering
    /// [0, n), concurrently when chunks > 1 (other regions inline meanwhile).
    public static func parallelChunks(_ n: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
        precondition(chunks >= 1, "parallelChunks: \(chunks) chunks")
        func range(_ c: Int) -> Range<Int> { (c * n / chunks)..<((c + 1) * n / chunks) }
        if chunks == 1 {
            body(0, 0..<n)
            return
        }
        activeRegions.enter()
        defer { activeRegions.leave() }
        // The warm helper threads when free, else GCD (nested or concurrent regions).
        if !ChunkPool.shared.run(chunks: chunks, { c in body(c, range(c)) }) {
            DispatchQueue.concurrentPerform(iterations: chunks) { c in body(c, range(c)) }
        }
    }

    /// Runs `body` on this thread alone, every parallel region inline. For
    /// work too small to pay for waking threads (batch-1 inference of a
    /// small network).
    public static func singleThreaded<R>(_ body: () -> R) -> R {
        activeRegions.enter()
        defer { activeRegions.leave() }
        return body()
    }

    /// Counts the parallel regions running in the process. While any runs,
    /// `blasThreads` is 1: a region that starts meanwhile (nested, or another
    /// caller's) runs inline, so concurrent callers never oversubscribe the
    /// cores and never change the configured budget.
    static let activeRegions = RegionGate()

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
