import DLKernels
import Foundation
import XCTest

/// `Kernels.parallelChunks` on the warm helper pool: every chunk runs exactly
/// once per region, over many back-to-back regions and with concurrent
/// callers (which fall back to GCD while the pool is busy).
final class ParallelChunksTests: XCTestCase {
    func testEveryChunkRunsOncePerRegionEvenWithConcurrentCallers() {
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        Kernels.setBLASThreads(2)
        let callers = 4, regions = 2_000, n = 37
        let totals = UnsafeMutableBufferPointer<Int>.allocate(capacity: callers)
        totals.initialize(repeating: 0)
        defer { totals.deallocate() }
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
            defer { counts.deallocate() }
            for region in 0..<regions {
                counts.initialize(repeating: 0)
                let chunks = 2 + region % 3
                Kernels.parallelChunks(n, chunks: chunks) { _, range in
                    for i in range { counts[i] += 1 }
                }
                totals[caller] += counts.reduce(0, +)
                XCTAssertTrue(counts.allSatisfy { $0 == 1 }, "caller \(caller) region \(region)")
            }
        }
        XCTAssertEqual(Array(totals), [Int](repeating: regions * n, count: callers))
        XCTAssertEqual(Kernels.blasThreads, 2)
    }
}
