import DLNN
import DLServing
import DLTasks
import DLTensor
import Foundation

/// A hand-made word-vector model (3 dimensions) in a temporary repository,
/// written through `WordVectorFiles` as glove-6b-50d is laid out.
///
///     man [1, 0, 1]   woman [-1, 0, 1]   king [1, 1, 1]   queen [-1, 1, 1]
///     boy [1, 0, 0.9] girl [-0.6, 0.3, 0.9]  nurse [0.5, 2, 0]  apple [0, 0, -1]
///
/// g = woman - man = [-2, 0, 0]; king - man + woman = queen exactly; boy -
/// man + woman = [-1, 0, 0.9] is nearest to woman (an input of that analogy).
enum ToyWordVectors {
    static let words = ["man", "woman", "king", "queen", "boy", "girl", "nurse", "apple"]
    static let vectors: [[Float]] = [
        [1, 0, 1], [-1, 0, 1], [1, 1, 1], [-1, 1, 1], [1, 0, 0.9], [-0.6, 0.3, 0.9], [0.5, 2, 0], [0, 0, -1],
    ]

    static var allWords: [String] { WordVectorFiles.reservedWords + words }
    static var tensor: Tensor { Tensor(shape: [words.count + 2, 3], data: [Float](repeating: 0, count: 6) + vectors.flatMap { $0 }) }

    /// Writes model `name` (version 1) under `root`.
    static func write(to root: URL, name: String = "toy") throws {
        try WordVectorFiles.publishModel(at: root.appendingPathComponent(name), config: WordVectorFiles.config(name: name),
                                         words: allWords, vectors: tensor, metrics: .object(["source": "hand-made"]))
    }

    static func temporaryRoot() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-wordvec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    static func engine(root: URL) async throws -> ServingEngine {
        var o = ServingOptions()
        o.workers = 1
        o.pollInterval = nil
        o.logger.logLevel = .critical
        let e = ServingEngine(repository: root, options: o)
        try await e.start()
        return e
    }
}

extension ServingError {
    /// The message of an `invalidInput`, nil for any other case.
    var invalidInputMessage: String? {
        if case .invalidInput(let m) = self { return m }
        return nil
    }
}
