import DLKernels
import DLTensor

/// The state a unidirectional `Recurrent` layer carries from one time step to
/// the next, one row per sequence: per stacked layer the hidden state
/// [rows * H] and, for an LSTM, the cell state. A value: `selecting(rows:)`
/// copies the rows it keeps.
public struct RecurrentCarry: Sendable, Equatable {
    /// Per stacked layer, [rows * H] row-major.
    public var hidden: [[Float]]
    /// Per stacked layer (LSTM only; empty otherwise), [rows * H].
    public var cell: [[Float]]
    public let hiddenSize: Int
    public let rowCount: Int

    /// The zero state the full forward starts from.
    public init(zeroFor layer: Recurrent, rows: Int) {
        let zeros = [Float](repeating: 0, count: rows * layer.hiddenSize)
        hidden = Array(repeating: zeros, count: layer.numLayers)
        cell = layer.cell == .lstm ? hidden : []
        (hiddenSize, rowCount) = (layer.hiddenSize, rows)
    }

    init(hidden: [[Float]], cell: [[Float]], hiddenSize: Int, rowCount: Int) {
        (self.hidden, self.cell, self.hiddenSize, self.rowCount) = (hidden, cell, hiddenSize, rowCount)
    }

    /// Row `i` of the result is row `rows[i]` of this carry.
    public func selecting(rows: [Int]) -> RecurrentCarry {
        let h = hiddenSize
        func gather(_ s: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: rows.count * h)
            for (i, r) in rows.enumerated() { out[(i * h)..<((i + 1) * h)] = s[(r * h)..<((r + 1) * h)] }
            return out
        }
        return RecurrentCarry(hidden: hidden.map(gather), cell: cell.map(gather), hiddenSize: h, rowCount: rows.count)
    }
}

extension Recurrent {
    /// One time step of a unidirectional layer (inference; nothing recorded
    /// for autodiff), the numbers a step of the full forward computes:
    /// x [R, in], keep [R] (1 = real step; 0 = padding: output 0, state
    /// unchanged, as the mask input does) and the carry from the previous
    /// step (`RecurrentCarry(zeroFor:rows:)` first) -> y [R, H] and the
    /// advanced carry.
    public func step(_ x: Tensor, keep: [Float], carry: RecurrentCarry) -> (output: Tensor, carry: RecurrentCarry) {
        precondition(!bidirectional, "\(cell.rawValue) step: a bidirectional layer cannot run one step at a time")
        let r = carry.rowCount
        precondition(x.shape == [r, inputSize] && keep.count == r && carry.hiddenSize == hiddenSize
                     && carry.hidden.count == numLayers,
                     "\(cell.rawValue) step: x \(x.shape), \(keep.count) mask values, carry of \(r) rows for [R, \(inputSize)]")
        guard r > 0 else { return (Tensor(shape: [0, hiddenSize], data: []), carry) }
        var next = carry
        var input = x.data, inWidth = inputSize
        for l in 0..<numLayers {
            let w = weights[l][0]
            var y = [Float](repeating: 0, count: r * hiddenSize)
            var c = cell == .lstm ? next.cell[l] : []
            input.withUnsafeBufferPointer { px in
                keep.withUnsafeBufferPointer { pk in
                    next.hidden[l].withUnsafeMutableBufferPointer { ph in
                        c.withUnsafeMutableBufferPointer { pc in
                            y.withUnsafeMutableBufferPointer { py in
                                Kernels.recurrentStep(
                                    cell, batch: r, input: inWidth, hidden: hiddenSize, x: px.baseAddress!,
                                    wih: w.wih.data, whh: w.whh.data, bih: w.bih.data, bhh: w.bhh.data,
                                    keep: pk.baseAddress!, state: ph.baseAddress!,
                                    cellState: cell == .lstm ? pc.baseAddress! : nil, y: py.baseAddress!)
                            }
                        }
                    }
                }
            }
            if cell == .lstm { next.cell[l] = c }
            input = y
            inWidth = hiddenSize
        }
        return (Tensor(shape: [r, hiddenSize], data: input), next)
    }
}
