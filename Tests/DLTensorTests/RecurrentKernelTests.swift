import DLKernels
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The recurrent kernels held against their plain references, on sizes with
/// vector tails (hidden 5, 11) and 8-lane bodies (16), and the promise that
/// a row's numbers do not depend on the rest of its batch.
final class RecurrentKernelTests: XCTestCase {
    func random(_ count: Int, _ rng: inout SeededGenerator, std: Float = 0.5) -> [Float] {
        Tensor.normal([count], std: std, rng: &rng).data
    }

    func testProductMatchesReferenceForListedRows() {
        var rng = SeededGenerator(seed: 5)
        for (batch, inputs, outputs) in [(1, 16, 48), (5, 11, 33), (4, 3, 9), (7, 128, 384)] {
            let h = random(batch * inputs, &rng), w = random(outputs * inputs, &rng), bias = random(outputs, &rng)
            let ref = Kernels.recurrentProductReference(h: h, batch: batch, w: w, bias: bias, inputs: inputs, outputs: outputs)
            // Every other row, from the last: the others stay as they were (NaN here).
            let rows = Array(stride(from: batch - 1, through: 0, by: -2))
            var out = [Float](repeating: .nan, count: batch * outputs)
            Kernels.recurrentProduct(h: h, ldh: inputs, rows: rows, rowCount: rows.count, w: w, bias: bias,
                                     inputs: inputs, outputs: outputs, out: &out, ldo: outputs)
            for r in 0..<batch {
                let got = Array(out[(r * outputs)..<((r + 1) * outputs)])
                if rows.contains(r) {
                    assertClose(got, Array(ref[(r * outputs)..<((r + 1) * outputs)]), rtol: 1e-5, atol: 1e-5, "\(batch)x\(inputs)x\(outputs) row \(r)")
                } else {
                    XCTAssertTrue(got.allSatisfy(\.isNaN), "row \(r) was not listed")
                }
            }
        }
    }

    /// Both directions of every cell, inference and training (cache) paths,
    /// with padded rows, against the plain loops.
    func testForwardMatchesReference() {
        for cell in Kernels.RecurrentCell.allCases {
            for hidden in [5, 16] {
                for reverse in [false, true] {
                    var rng = SeededGenerator(seed: 9)
                    let s = Kernels.RecurrentShape(cell: cell, batch: 3, steps: 6, input: 7, hidden: hidden, reverse: reverse)
                    let gh = cell.gates * hidden
                    let x = random(3 * 6 * 7, &rng, std: 1), wih = random(gh * 7, &rng), whh = random(gh * hidden, &rng)
                    let bih = random(gh, &rng), bhh = random(gh, &rng)
                    let mask: [Float] = [6, 2, 4].flatMap { l in (0..<6).map { $0 < l ? 1 : 0 } }
                    let ref = Kernels.recurrentForwardReference(s, x: x, wih: wih, whh: whh, bih: bih, bhh: bhh, mask: mask)
                    for training in [false, true] {
                        var y = [Float](repeating: .nan, count: ref.count)
                        var cache = [Float](repeating: 0, count: training ? s.cacheCount : 0)
                        cache.withUnsafeMutableBufferPointer { pc in
                            Kernels.recurrentForward(s, x: x, ldx: 7, wih: wih, whh: whh, bih: bih, bhh: bhh, mask: mask,
                                                     y: &y, ldy: hidden, yOffset: 0, cache: training ? pc.baseAddress! : nil)
                        }
                        assertClose(y, ref, rtol: 1e-5, atol: 1e-5, "\(cell) hidden \(hidden) reverse \(reverse) training \(training)")
                    }
                }
            }
        }
    }

    /// A sequence alone and the same sequence as row 1 of a padded batch:
    /// bit-identical states (the input projection is one BLAS product for
    /// all rows, so this holds the step kernels to it with equal projections).
    func testStepsDoNotDependOnTheBatch() {
        var rng = SeededGenerator(seed: 2)
        let (h, k) = (13, 3 * 13)
        let w = random(k * h, &rng), bias = random(k, &rng)
        let batch = random(4 * h, &rng)
        var all = [Float](repeating: 0, count: 4 * k), one = [Float](repeating: 0, count: k)
        Kernels.recurrentProduct(h: batch, ldh: h, rows: [0, 1, 2, 3], rowCount: 4, w: w, bias: bias, inputs: h, outputs: k,
                                 out: &all, ldo: k)
        Array(batch[h..<(2 * h)]).withUnsafeBufferPointer { row in
            Kernels.recurrentProduct(h: row.baseAddress!, ldh: h, rows: [0], rowCount: 1, w: w, bias: bias, inputs: h,
                                     outputs: k, out: &one, ldo: k)
        }
        XCTAssertEqual(Array(all[k..<(2 * k)]), one)
    }
}
