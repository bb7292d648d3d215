import DLNN
import DLTensor
import XCTest

/// The word-vector model layout: what prepare_glove.py, skip-gram training
/// and the debiased copy write, and what the repository loads.
final class WordVectorFilesTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-wvf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    static let words = ["<pad>", "<unk>", "the", "cat"]
    static let vectors = Tensor(shape: [4, 2], data: [0, 0, 0, 0, 1, 2, 3, 4])

    func testAPublishedModelLoadsAsATextModelWithAFrozenEmbedding() throws {
        try WordVectorFiles.publishModel(at: root.appendingPathComponent("wv"), config: WordVectorFiles.config(name: "wv"),
                                         words: Self.words, vectors: Self.vectors, metrics: .object(["source": "test"]))
        let loaded = try ModelRepository(root: root).load("wv", version: 1)
        XCTAssertEqual(loaded.config.task, .wordVectors)
        XCTAssertEqual(loaded.config.input.text, ModelConfig.TextInput(vocabulary: "vocab.txt", lowercase: true, maxLength: 64))
        XCTAssertEqual(loaded.model.stateDict.map(\.name), ["embedding.weight"])
        XCTAssertFalse(loaded.model.stateDict[0].tensor.requiresGrad, "frozen")
        XCTAssertEqual(loaded.model.stateDict[0].tensor.data, Self.vectors.data)
        XCTAssertEqual(loaded.model.outputShape, [-1, 2])
        let back = try WordVectorFiles.read(version: loaded.directory)
        XCTAssertEqual(back.words, Self.words)
        XCTAssertEqual(back.vectors.data, Self.vectors.data)
        XCTAssertThrowsError(try WordVectorFiles.publishModel(at: root.appendingPathComponent("wv"), config: WordVectorFiles.config(name: "wv"),
                                                              words: Self.words, vectors: Self.vectors, metrics: nil), "it exists")
    }

    func testTheReservedWordsAndTheShapeAreChecked() throws {
        let dir = root.appendingPathComponent("v")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try WordVectorFiles.writeVersion(words: ["the", "cat", "a", "b"], vectors: Self.vectors, metrics: nil, to: dir))
        XCTAssertThrowsError(try WordVectorFiles.writeVersion(words: Array(Self.words.prefix(3)), vectors: Self.vectors, metrics: nil, to: dir))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "nothing written")
    }
}
