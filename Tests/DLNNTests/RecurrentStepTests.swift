import DLKernels
import DLNN
import DLTensor
import XCTest

/// `Recurrent.step`, one position at a time from a carried state, against the
/// full forward over a padded batch (stacked layers, masks, every cell).
final class RecurrentStepTests: XCTestCase {
    func testStepsEqualTheFullForward() {
        for cell in Kernels.RecurrentCell.allCases {
            var rng = SeededGenerator(seed: 11)
            let layer = Recurrent(cell: cell, inputSize: 5, hiddenSize: 9, numLayers: 2, rng: &rng)
            let (n, t) = (3, 6)
            let x = Tensor.normal([n, t, 5], std: 1, rng: &rng)
            // Row 1 ends early; row 2 has a padded step in the middle.
            let keep: [[Float]] = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1]]
            let mask = Tensor(shape: [n, t], data: keep.flatMap { $0 })
            let full = layer([x, mask], .inference())
            var carry = RecurrentCarry(zeroFor: layer, rows: n)
            for p in 0..<t {
                var xs: [Float] = []
                for i in 0..<n {
                    let from: Int = (i * t + p) * 5
                    xs += x.data[from..<(from + 5)]
                }
                let xp = Tensor(shape: [n, 5], data: xs)
                let out = layer.step(xp, keep: keep.map { $0[p] }, carry: carry)
                carry = out.carry
                for i in 0..<n {
                    let from: Int = (i * t + p) * 9
                    let want = full.data[from..<(from + 9)]
                    let got = out.output.data[(i * 9)..<((i + 1) * 9)]
                    let worst = zip(want, got).map { abs($0 - $1) }.max()!
                    XCTAssertLessThanOrEqual(worst, 1e-6, "\(cell) row \(i) position \(p)")
                }
            }
        }
    }

    func testSelectingRowsCopiesTheirStates() {
        var rng = SeededGenerator(seed: 3)
        let layer = Recurrent(cell: .lstm, inputSize: 2, hiddenSize: 3, rng: &rng)
        let out = layer.step(Tensor.normal([2, 2], std: 1, rng: &rng), keep: [1, 1], carry: RecurrentCarry(zeroFor: layer, rows: 2))
        let picked = out.carry.selecting(rows: [1, 1, 0])
        XCTAssertEqual(picked.rowCount, 3)
        XCTAssertEqual(Array(picked.hidden[0][0..<3]), Array(out.carry.hidden[0][3..<6]))
        XCTAssertEqual(Array(picked.cell[0][6..<9]), Array(out.carry.cell[0][0..<3]))
        XCTAssertEqual(Array(picked.hidden[0][3..<6]), Array(out.output.data[3..<6]))
    }
}
