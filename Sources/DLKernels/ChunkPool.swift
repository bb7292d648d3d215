import CBLAS
import Foundation
import Synchronization

/// Helper threads for `Kernels.parallelChunks`, kept warm between regions.
///
/// A batch-1 forward pass opens a few parallel regions per layer, each a few
/// tens of microseconds of work; waking GCD worker threads for each costs
/// about as much as the work. Here the helpers spin for a short while after a
/// region (`spinNanoseconds`, 0.3 ms) and only then sleep, so back-to-back
/// regions start in well under a microsecond, while an idle process costs
/// nothing.
///
/// One region at a time: a caller that finds the pool busy (another thread's
/// region, or a nested one) gets `false` and runs its chunks another way.
/// The job word packs generation, chunk count and next index, so a helper
/// can only ever take chunks of the job it woke up for.
final class ChunkPool: @unchecked Sendable {
    static let shared = ChunkPool(helpers: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))

    let helpers: Int
    /// generation << 32 | chunks << 16 | next index.
    private let job = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// Written before the job word is published (release), read after a
    /// chunk of that job is claimed (acquire).
    private var body: ((Int) -> Void)?
    private let sleepers = NSCondition()
    private var sleeping = 0

    /// How long a helper spins for the next region before it sleeps. A
    /// batch-1 forward pass has serial stretches of tens of microseconds
    /// between its regions (elementwise steps, padding copies); a helper
    /// that slept through one of them costs a futex wake-up, 30-50 µs on
    /// this VM, at the next region.
    static let spinNanoseconds: UInt64 = 300_000

    /// Spinners (a helper waiting for a region, the caller waiting for the
    /// helpers' last chunks) call `sched_yield` every this many + 1 pauses,
    /// a few microseconds. When the scheduler has put the caller and a
    /// helper on one CPU, a pure spin holds that CPU for a whole time slice
    /// (a region took 3 ms instead of 0.05) while the thread it waits for
    /// cannot run; with nothing else to run, the yield costs about 1 µs.
    private static let yieldEvery = 63

    private static let indexBits = 16
    private static let mask = (1 << indexBits) - 1

    init(helpers: Int) {
        self.helpers = helpers
        for i in 0..<helpers {
            let t = Thread { [self] in helperLoop() }
            t.name = "dlserve-kernels-\(i + 1)"
            t.start()
        }
    }

    /// Runs body(c) for every c in 0..<chunks on this thread and the helpers;
    /// returns when all are done. False (nothing run) when the pool is busy,
    /// has no helpers, or `chunks` is out of range.
    func run(chunks: Int, _ body: (Int) -> Void) -> Bool {
        guard helpers > 0, chunks > 1, chunks < Self.mask else { return false }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            self.body = body
            done.store(0, ordering: .relaxed)
            let generation = (job.load(ordering: .relaxed) >> (2 * Self.indexBits)) + 1
            job.store(generation << (2 * Self.indexBits) | chunks << Self.indexBits, ordering: .releasing)
            sleepers.lock()
            if sleeping > 0 { sleepers.broadcast() }
            sleepers.unlock()
            work(generation: generation)
            var spins = 0
            while done.load(ordering: .acquiring) < chunks { Self.spin(&spins) }
            self.body = nil
        }
        return true
    }

    /// One step of a spin-wait: a pause, and a `sched_yield` every
    /// `yieldEvery` + 1 steps (then it returns true).
    @inline(__always) @discardableResult
    private static func spin(_ spins: inout Int) -> Bool {
        dl_cpu_relax()
        spins += 1
        guard spins & yieldEvery == 0 else { return false }
        sched_yield()
        return true
    }

    /// Takes and runs chunks of job `generation` until none is left.
    private func work(generation: Int) {
        while true {
            let word = job.load(ordering: .acquiring)
            let index = word & Self.mask, chunks = (word >> Self.indexBits) & Self.mask
            guard word >> (2 * Self.indexBits) == generation, index < chunks else { return }
            guard job.compareExchange(expected: word, desired: word + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            body!(index)
            done.add(1, ordering: .releasing)
        }
    }

    private func helperLoop() {
        var seen = 0
        while true {
            var generation = job.load(ordering: .acquiring) >> (2 * Self.indexBits)
            var spins = 0
            let start = DispatchTime.now().uptimeNanoseconds
            while generation == seen {
                if Self.spin(&spins) {
                    if DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                        sleepers.lock()
                        sleeping += 1
                        while job.load(ordering: .acquiring) >> (2 * Self.indexBits) == seen { sleepers.wait() }
                        sleeping -= 1
                        sleepers.unlock()
                    }
                }
                generation = job.load(ordering: .acquiring) >> (2 * Self.indexBits)
            }
            seen = generation
            work(generation: generation)
        }
    }
}
