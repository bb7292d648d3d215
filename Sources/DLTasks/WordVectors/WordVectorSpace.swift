import DLNN
import DLServing
import DLTensor
import DLText
import Foundation

/// A model's word vectors with their words: E [N, D] (row r is word r of the
/// vocabulary; rows 0 and 1 are the reserved padding and unknown tokens,
/// never an answer) and the queries of the embeddings week over it.
public struct WordVectorSpace: Sendable {
    public let vocabulary: Vocabulary
    /// E, row-major [rows, dim].
    public let matrix: [Float]
    public let rows: Int
    public let dim: Int
    /// Whether queries are lowercased before lookup (config.json input.text.lowercase).
    public let lowercase: Bool
    /// |E_r| for every row.
    public let norms: [Float]

    /// The rows that are never an answer: padding, unknown word.
    public static let reservedRows: Set<Int> = [Vocabulary.paddingID, Vocabulary.unknownID]

    public init(vocabulary: Vocabulary, vectors: Tensor, lowercase: Bool = true) {
        precondition(vectors.rank == 2 && vectors.shape[0] == vocabulary.count,
                     "WordVectorSpace: vectors \(vectors.shape) for \(vocabulary.count) words")
        self.vocabulary = vocabulary
        matrix = vectors.data
        rows = vectors.shape[0]
        dim = vectors.shape[1]
        self.lowercase = lowercase
        norms = WordVectorMath.rowNorms(matrix, rows: rows, dim: dim)
    }

    /// The vectors of the version a request is pinned to.
    public init(_ model: ModelRunner) throws {
        guard let vocabulary = model.resources.vocabulary else {
            throw ServingError.internal("model '\(model.name)' version \(model.version) has no vocabulary")
        }
        guard let e = model.parameter(WordVectorFiles.tensorName), e.rank == 2, e.shape[0] == vocabulary.count else {
            throw ServingError.internal("model '\(model.name)' version \(model.version) has no '\(WordVectorFiles.tensorName)' [\(vocabulary.count), dim]")
        }
        self.init(vocabulary: vocabulary, vectors: e, lowercase: model.resources.tokenizer?.lowercase ?? true)
    }

    /// The key a query word is looked up under.
    public func normalized(_ word: String) -> String { lowercase ? word.lowercased() : word }

    /// The row of a word, nil for a word outside the vocabulary or a reserved token.
    public func row(_ word: String) -> Int? {
        let w = normalized(word)
        let r = vocabulary.id(w)
        guard !Self.reservedRows.contains(r), vocabulary.words[r] == w else { return nil }
        return r
    }

    /// The row of a request's word; `invalidInput` naming the field otherwise.
    public func row(_ word: String, field: String) throws -> Int {
        guard !word.isEmpty else { throw ServingError.invalidInput("'\(field)' is empty") }
        guard let r = row(word) else {
            throw ServingError.invalidInput("'\(field)': unknown word '\(word)' (not among the model's \(rows - Self.reservedRows.count) words)")
        }
        return r
    }

    public func vector(_ row: Int) -> [Float] { Array(matrix[(row * dim)..<((row + 1) * dim)]) }

    /// The `k` words of highest cosine with `query`, skipping `excluded` rows
    /// and the reserved ones.
    public func nearest(to query: [Float], k: Int, excluding excluded: Set<Int>) -> [(word: String, cosine: Float)] {
        let scores = WordVectorMath.cosines(matrix, rows: rows, dim: dim, norms: norms, query: query)
        return WordVectorMath.top(scores, k: k, excluding: excluded.union(Self.reservedRows)).map { (vocabulary.words[$0.row], $0.score) }
    }

    /// The k nearest words to word `row`, itself excluded.
    public func nearest(row: Int, k: Int) -> [(word: String, cosine: Float)] {
        nearest(to: vector(row), k: k, excluding: [row])
    }

    /// a : b :: c : ?  ->  the words w of highest cos(e_w, e_c - e_a + e_b),
    /// w not a, b or c (course notes: argmax_w sim(e_w, e_king - e_man + e_woman)).
    public func analogy(a: Int, b: Int, c: Int, k: Int) -> [(word: String, cosine: Float)] {
        let target = WordVectorMath.combine(1, WordVectorMath.combine(1, vector(c), -1, vector(a)), 1, vector(b))
        return nearest(to: target, k: k, excluding: [a, b, c])
    }
}
