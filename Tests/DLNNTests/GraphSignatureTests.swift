import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// model.json with several named inputs and outputs: a tiny transformer
/// encoder-decoder reading "src" and "tgt" ids, forward and backward by name,
/// a save/load round trip, and the single-input form left as it was.
final class GraphSignatureTests: XCTestCase {
    static let seq2seqJSON = """
    {
      "format": "dlserve-model/1",
      "inputs": [
        {"name": "src", "shape": [-1], "dtype": "int64"},
        {"name": "tgt", "shape": [-1], "dtype": "int64"}
      ],
      "outputs": ["logits", "memory"],
      "layers": [
        {"name": "src_mask", "type": "sequence_mask", "inputs": ["src"], "attrs": {"padding_idx": 0}},
        {"name": "tgt_mask", "type": "sequence_mask", "inputs": ["tgt"], "attrs": {"padding_idx": 0}},
        {"name": "src_embed", "type": "embedding", "inputs": ["src"], "attrs": {"vocab_size": 11, "dim": 8, "padding_idx": 0}},
        {"name": "src_pos", "type": "positional_encoding", "inputs": ["src_embed"], "attrs": {"scale_input": true}},
        {"name": "memory", "type": "transformer_encoder_layer", "inputs": ["src_pos", "src_mask"],
         "attrs": {"num_heads": 2, "dim_feedforward": 16, "dropout": 0}},
        {"name": "tgt_embed", "type": "embedding", "inputs": ["tgt"], "attrs": {"vocab_size": 11, "dim": 8, "padding_idx": 0}},
        {"name": "tgt_pos", "type": "positional_encoding", "inputs": ["tgt_embed"], "attrs": {"scale_input": true}},
        {"name": "decoder", "type": "transformer_decoder_layer", "inputs": ["tgt_pos", "tgt_mask", "memory", "src_mask"],
         "attrs": {"num_heads": 2, "dim_feedforward": 16, "dropout": 0}},
        {"name": "logits", "type": "dense", "inputs": ["decoder"], "attrs": {"units": 11}}
      ]
    }
    """

    func seq2seqSpec() throws -> ModelSpec {
        try JSONDecoder().decode(ModelSpec.self, from: Data(Self.seq2seqJSON.utf8))
    }

    /// Source lengths 4 and 2 (S = 4), target lengths 3 and 2 (T = 3).
    let src = Tensor(shape: [2, 4], data: [3, 4, 5, 6, 7, 8, 0, 0])
    let tgt = Tensor(shape: [2, 3], data: [1, 5, 4, 1, 9, 0])

    func testSpecDecodesInputsAndOutputs() throws {
        let spec = try seq2seqSpec()
        XCTAssertEqual(spec.inputs, [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")])
        XCTAssertEqual(spec.outputs, ["logits", "memory"])
        // Old callers see the first input and output.
        XCTAssertEqual(spec.inputShape, [-1])
        XCTAssertEqual(spec.output, "logits")
        XCTAssertFalse(spec.isSingleInputForm)
        let model = try GraphModel(spec: spec, seed: 5)
        XCTAssertEqual(model.outputShapes, [[-1, 11], [-1, 8]])
        XCTAssertEqual(model.outputShape, [-1, 11])
        XCTAssertTrue(model.accepts([7], input: "tgt"))
        XCTAssertFalse(model.accepts([7, 1], input: "src"))
    }

    func testForwardAndBackwardByName() throws {
        let model = try GraphModel(spec: try seq2seqSpec(), seed: 5)
        let out = model(inputs: ["src": src, "tgt": tgt], ForwardContext(training: true))
        XCTAssertEqual(Set(out.keys), ["logits", "memory"])
        XCTAssertEqual(out["logits"]!.shape, [2, 3, 11])
        XCTAssertEqual(out["memory"]!.shape, [2, 4, 8])
        let loss = sequenceCrossEntropy(logits: out["logits"]!, targets: Tensor(shape: [2, 3], data: [5, 4, 2, 9, 2, 0]), ignoreIndex: 0)
        loss.backward()
        for (name, p) in model.namedParameters {
            XCTAssertNotNil(p.grad, name)
            XCTAssertTrue(p.grad?.contains { $0 != 0 } ?? false, "\(name) has a zero gradient")
        }
        // Inference gives the training forward's values (dropout 0) with no graph recorded.
        let inferred = model.infer(inputs: ["src": src, "tgt": tgt])
        assertClose(inferred["logits"]!, out["logits"]!, rtol: 1e-6, atol: 1e-6)
        XCTAssertNil(inferred["logits"]!.node)
    }

    func testPaddedSourceGivesTheSameAnswerAsAlone() throws {
        // The second pair alone (no padding) and in the padded batch agree on its real target tokens.
        let model = try GraphModel(spec: try seq2seqSpec(), seed: 6)
        let batch = model.infer(inputs: ["src": src, "tgt": tgt])["logits"]!
        let alone = model.infer(inputs: ["src": Tensor(shape: [1, 2], data: [7, 8]), "tgt": Tensor(shape: [1, 2], data: [1, 9])])["logits"]!
        assertClose(alone.data, Array(batch.data[33..<55]), rtol: 1e-5, atol: 1e-5)
    }

    func testSaveLoadRoundTrip() throws {
        let model = try GraphModel(spec: try seq2seqSpec(), seed: 7)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-test-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir)
        let text = try String(contentsOf: dir.appendingPathComponent("model.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"inputs\"") && text.contains("\"outputs\"") && !text.contains("input_shape"), text)
        let loaded = try GraphModel.load(from: dir)
        XCTAssertEqual(loaded.spec, model.spec)
        let a = model.infer(inputs: ["src": src, "tgt": tgt]), b = loaded.infer(inputs: ["src": src, "tgt": tgt])
        for name in ["logits", "memory"] { assertClose(b[name]!, a[name]!, rtol: 0, atol: 0, name) }
    }

    func testSingleInputFormIsUnchanged() throws {
        let json = #"{"format":"dlserve-model/1","input_shape":[4],"layers":[{"name":"fc","type":"dense","inputs":["input"],"attrs":{"units":2}}],"output":"fc"}"#
        let spec = try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
        XCTAssertTrue(spec.isSingleInputForm)
        XCTAssertEqual(spec.inputs, [InputSpec(name: "input", shape: [4])])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let again = String(decoding: try encoder.encode(spec), as: UTF8.self)
        XCTAssertEqual(again, #"{"format":"dlserve-model\/1","input_shape":[4],"layers":[{"attrs":{"units":2},"inputs":["input"],"name":"fc","type":"dense"}],"output":"fc"}"#)
        // One named input through the dictionary API equals the tensor API.
        let model = try GraphModel(spec: spec, seed: 1)
        let x = Tensor(shape: [3, 4], data: (0..<12).map(Float.init))
        XCTAssertEqual(model.infer(inputs: ["input": x])["fc"]!.data, model.infer(x).data)
    }

    func testShippedModelsLoadAndTheirSpecsReencodeUnchanged() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models")
        let names = try FileManager.default.contentsOfDirectory(atPath: models.path).sorted()
        var checked = 0
        for name in names {
            let dir = models.appendingPathComponent(name).appendingPathComponent("1")
            let file = dir.appendingPathComponent(GraphModel.specFileName)
            guard FileManager.default.fileExists(atPath: file.path) else { continue }
            let model = try GraphModel.load(from: dir)
            // One-input models keep the single-input form, or (the detectors, whose
            // recipes name it) an "image" input; the translation model names its two inputs.
            if model.spec.inputs.count == 1 {
                XCTAssertTrue(model.spec.isSingleInputForm || model.spec.inputs.map(\.name) == ["image"], name)
            } else {
                XCTAssertEqual(model.spec.inputs.map(\.name), ["src", "tgt"], name)
            }
            // The same JSON value (generated models, such as GloVe's, are written by Python with other spacing).
            let again = try JSONSerialization.jsonObject(with: try JSONFile.encode(model.spec)) as? NSDictionary
            let original = try JSONSerialization.jsonObject(with: try Data(contentsOf: file)) as? NSDictionary
            XCTAssertEqual(again, original, name)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 2, "shipped models in \(models.path)")
    }

    func testBadSignaturesAreArchitectureErrors() throws {
        func decodeFails(_ json: String) {
            XCTAssertThrowsError(try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8)), json)
        }
        decodeFails(#"{"input_shape":[1],"inputs":[{"name":"a","shape":[1]}],"layers":[]}"#)
        decodeFails(#"{"inputs":[],"layers":[]}"#)
        decodeFails(#"{"inputs":[{"name":"a","shape":[1]}],"outputs":[],"layers":[]}"#)
        func buildFails(_ spec: ModelSpec, _ text: String) {
            XCTAssertThrowsError(try GraphModel(spec: spec)) { e in
                guard case .architecture(let m)? = e as? ModelError else { return XCTFail("\(e)") }
                XCTAssertTrue(m.contains(text), "'\(m)' lacks '\(text)'")
            }
        }
        let fc = LayerSpec(name: "fc", type: "dense", inputs: ["a"], attrs: ["units": 2])
        buildFails(ModelSpec(inputs: [InputSpec(name: "a", shape: [2], dtype: "bytes")], layers: [fc], outputs: ["fc"]), "dtype 'bytes'")
        buildFails(ModelSpec(inputs: [InputSpec(name: "a", shape: [2]), InputSpec(name: "a", shape: [2])], layers: [fc], outputs: ["fc"]),
                   "duplicate input")
        buildFails(ModelSpec(inputs: [InputSpec(name: "a", shape: [0])], layers: [fc], outputs: ["fc"]), "must be positive")
        buildFails(ModelSpec(inputs: [InputSpec(name: "a", shape: [2])], layers: [fc], outputs: ["fc", "nowhere"]), "output 'nowhere'")
        buildFails(ModelSpec(inputs: [InputSpec(name: "fc", shape: [2])], layers: [fc], outputs: ["fc"]), "reserved")
        buildFails(ModelSpec(inputs: [InputSpec(name: "b", shape: [2])], layers: [fc], outputs: ["fc"]), "unknown input 'a'")
    }
}
