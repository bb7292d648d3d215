import Foundation

/// glibc's allocator settings, for the two kinds of process dlserve runs.
///
/// Training allocates and frees the same large activation and gradient
/// buffers every step. By default glibc serves blocks over its mmap threshold
/// with fresh mappings and trims the heap top, so every step pays page faults
/// and page clearing (about 10% of a ResNet training step here).
/// `keepFreedMemoryForReuse` keeps freed memory in the heap for the next step.
/// The daemon wants the opposite for weights (an unload must give memory back):
/// `mapLargeBlocks(over:)`.
extension Kernels {
    /// For training processes: no mmap below 1 GiB, no heap trimming below 1 GiB.
    public static func keepFreedMemoryForReuse() {
        _ = mallopt(mmapThreshold, 1 << 30)
        _ = mallopt(trimThreshold, 1 << 30)
    }

    /// Fixes the mmap threshold at `bytes` (it then stops growing): blocks at
    /// least that large are always mapped, so freeing them returns them at once.
    /// Smaller freed blocks stay in the heaps (trim threshold 256 MiB): the
    /// per-call scratch of inference on worker threads is reused rather than
    /// trimmed and faulted in again on every request. `malloc_trim` still
    /// returns them on demand.
    public static func mapLargeBlocks(over bytes: Int32) {
        _ = mallopt(mmapThreshold, bytes)
        _ = mallopt(trimThreshold, 256 << 20)
    }

    private static let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
    private static let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD

    /// glibc's mallopt, looked up at run time (Swift's Glibc module does not
    /// export it, and other C libraries lack it). Returns 0 when unavailable.
    private static func mallopt(_ option: Int32, _ value: Int32) -> Int32 {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = malloptSymbol else { return 0 }
        return unsafeBitCast(symbol, to: Mallopt.self)(option, value)
    }

    nonisolated(unsafe) private static let malloptSymbol: UnsafeMutableRawPointer? = dlsym(nil, "mallopt")
}
