import DLTensor
import Foundation

/// Sinusoidal positional encoding (Vaswani et al., 2017, section 3.5), as in
/// PyTorch's transformer tutorial: x + PE[:T] with
/// PE[p, 2i] = sin(p / 10000^(2i/E)) and PE[p, 2i+1] = cos(p / 10000^(2i/E)).
/// No parameters and no saved buffer: the table is a function of T and E.
/// With `scale_input`, x is first multiplied by sqrt(E) (the tutorial's
/// `embedding(src) * sqrt(d_model)`).
///
/// model.json: `{"type": "positional_encoding", "inputs": ["embed"], "attrs": {"scale_input": true}}`.
public final class PositionalEncoding: UnaryLayer {
    public let scaleInput: Bool

    public init(scaleInput: Bool = false) { self.scaleInput = scaleInput }

    public convenience init(spec: LayerSpec) throws {
        self.init(scaleInput: try spec.bool("scale_input", default: false))
    }

    /// The table PE [length, dim]; an odd dim ends with a sine column.
    public static func table(length: Int, dim: Int) -> Tensor { table(offset: 0, length: length, dim: dim) }

    /// Rows `offset..<offset + length` of the table, [length, dim]: the
    /// positions a decoder step feeds after `offset` cached tokens.
    public static func table(offset: Int, length: Int, dim: Int) -> Tensor {
        precondition(offset >= 0 && length >= 0, "PositionalEncoding.table: offset \(offset), length \(length)")
        var pe = [Float](repeating: 0, count: length * dim)
        for i in stride(from: 0, to: dim, by: 2) {
            let freq = Foundation.exp(Double(i) * -Foundation.log(10000.0) / Double(dim))
            for r in 0..<length {
                let p = Double(offset + r)
                pe[r * dim + i] = Float(Foundation.sin(p * freq))
                if i + 1 < dim { pe[r * dim + i + 1] = Float(Foundation.cos(p * freq)) }
            }
        }
        return Tensor(shape: [length, dim], data: pe)
    }

    /// [T, E] -> [T, E] (T may be -1, a variable length).
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2 else {
            throw ModelError.shape("positional_encoding expects a sequence [T, E], got \(inputShape)")
        }
        return inputShape
    }

    /// x [N, T, E] -> [N, T, E]. The gradient passes through unchanged (times sqrt(E) with scale_input).
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        self(x, offset: 0, ctx)
    }

    /// x [N, T, E] holding positions `offset..<offset + T` -> [N, T, E]
    /// (a decoder step after `offset` cached tokens).
    public func callAsFunction(_ x: Tensor, offset: Int, _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 3, "positional_encoding: input \(x.shape) is not [N, T, E]")
        let (t, e) = (x.shape[1], x.shape[2])
        let scaled = scaleInput ? x.scaled(by: Foundation.sqrt(Float(e))) : x
        return scaled + PositionalEncoding.table(offset: offset, length: t, dim: e)
    }

    /// x [N, 1, E], row i at position `offsets[i]` -> [N, 1, E]: a decoder
    /// step over rows that have fed different numbers of tokens.
    public func callAsFunction(_ x: Tensor, offsets: [Int], _ ctx: ForwardContext) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == 1 && x.shape[0] == offsets.count,
                     "positional_encoding: input \(x.shape) is not [N, 1, E] for \(offsets.count) offsets")
        let e = x.shape[2]
        let scaled = scaleInput ? x.scaled(by: Foundation.sqrt(Float(e))) : x
        var rows: [Float] = []
        rows.reserveCapacity(offsets.count * e)
        for offset in offsets { rows += PositionalEncoding.table(offset: offset, length: 1, dim: e).data }
        return scaled + Tensor(shape: [offsets.count, 1, e], data: rows)
    }
}
