import DLTensor
import Foundation

/// Embedding lookup, PyTorch's `nn.Embedding`: ids [N, T] (token ids stored as
/// floats) -> [N, T, dim], weight [vocab_size, dim]. Backward scatter-adds the
/// output gradient into the rows that were read; the `padding_idx` row is zero
/// at initialisation and receives no gradient, as in PyTorch.
///
/// model.json: `{"type": "embedding", "attrs": {"vocab_size": 20000, "dim": 50,
/// "padding_idx": 0, "trainable": true}}`. Initial vectors (GloVe, say) are
/// copied in by the recipe before training (`TextDataset`); a frozen table
/// (`"trainable": false`) keeps them.
public final class Embedding: UnaryLayer {
    public let vocabSize: Int
    public let dim: Int
    public let paddingIndex: Int?
    /// [vocab_size, dim].
    public let weight: Tensor

    public init(vocabSize: Int, dim: Int, paddingIndex: Int?, trainable: Bool = true, rng: inout SeededGenerator) {
        precondition(vocabSize > 0 && dim > 0, "Embedding: vocab_size and dim must be positive, got \(vocabSize) x \(dim)")
        self.vocabSize = vocabSize
        self.dim = dim
        self.paddingIndex = paddingIndex
        // PyTorch's default: N(0, 1).
        weight = Tensor.normal([vocabSize, dim], std: 1, rng: &rng)
        if let p = paddingIndex {
            for j in 0..<dim { weight.data[p * dim + j] = 0 }
        }
        weight.requiresGrad = trainable
    }

    public convenience init(spec: LayerSpec, inputShapes: [[Int]], rng: inout SeededGenerator) throws {
        guard inputShapes.count == 1, inputShapes[0].count == 1 else {
            throw ModelError.shape("embedding '\(spec.name)' takes token ids [T], got \(inputShapes)")
        }
        let v = try spec.int("vocab_size"), d = try spec.int("dim")
        guard v > 0, d > 0 else { throw ModelError.architecture("embedding '\(spec.name)': vocab_size and dim must be positive") }
        var pad: Int? = nil
        if spec.attr("padding_idx") != nil && spec.attr("padding_idx") != .null {
            pad = try spec.int("padding_idx")
            guard (0..<v).contains(pad!) else {
                throw ModelError.architecture("embedding '\(spec.name)': padding_idx \(pad!) outside 0..<\(v)")
            }
        }
        self.init(vocabSize: v, dim: d, paddingIndex: pad, trainable: try spec.bool("trainable", default: true), rng: &rng)
    }

    public var parameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    /// [T] -> [T, dim].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else { throw ModelError.shape("embedding expects token ids [T], got \(inputShape)") }
        return inputShape + [dim]
    }

    /// Whether every id is a whole number in 0..<vocab_size (checked by the
    /// serving edge before a client's ids reach `callAsFunction`).
    public func validIDs(_ ids: [Float]) -> Bool {
        ids.allSatisfy { $0 >= 0 && $0 < Float(vocabSize) && $0 == $0.rounded() }
    }

    /// ids [N, T] -> [N, T, dim], through `Tensor.embedding`.
    public func callAsFunction(_ ids: Tensor, _ ctx: ForwardContext) -> Tensor {
        Tensor.embedding(ids, weight: weight, paddingIndex: paddingIndex)
    }

    /// Copies vectors into rows (e.g. GloVe for the words of a vocabulary).
    public func setRow(_ row: Int, _ vector: [Float]) {
        precondition(vector.count == dim && (0..<vocabSize).contains(row), "Embedding.setRow: row \(row), \(vector.count) values")
        for j in 0..<dim { weight.data[row * dim + j] = vector[j] }
    }
}

/// The padding mask of token ids: [N, T] -> [N, T] with 1 where the id is not
/// `padding_idx` (padding sits at the end of each row) and 0 where it is. No
/// gradient flows through it.
///
/// model.json: `{"type": "sequence_mask", "inputs": ["input"], "attrs": {"padding_idx": 0}}`.
public final class SequenceMask: UnaryLayer {
    public let paddingIndex: Float

    public init(paddingIndex: Int) { self.paddingIndex = Float(paddingIndex) }

    public convenience init(spec: LayerSpec) throws {
        self.init(paddingIndex: try spec.int("padding_idx", default: 0))
    }

    /// [T] -> [T].
    public func outputShape(_ inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 1 else { throw ModelError.shape("sequence_mask expects token ids [T], got \(inputShape)") }
        return inputShape
    }

    public func callAsFunction(_ ids: Tensor, _ ctx: ForwardContext) -> Tensor {
        let p = paddingIndex
        return Tensor(shape: ids.shape, data: ids.data.map { $0 == p ? 0 : 1 })
    }
}
