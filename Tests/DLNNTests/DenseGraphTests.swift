import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The dense-family layer types inside model graphs: registry coverage,
/// residual and concatenation graphs, state-dict names, and shape errors
/// reported at load time.
final class DenseGraphTests: XCTestCase {
    func node(_ name: String, _ type: String, _ inputs: [String], _ attrs: [String: JSONValue] = [:]) -> LayerSpec {
        LayerSpec(name: name, type: type, inputs: inputs, attrs: attrs)
    }

    func testEveryTypeIsRegistered() throws {
        let box = SeededGeneratorBox(seed: 0)
        for type in ["dense", "relu", "leaky_relu", "relu6", "sigmoid", "tanh", "softmax", "batch_norm", "dropout", "add", "concat"] {
            XCTAssertTrue(LayerRegistry.knownTypes.contains(type), type)
            let inputs = type == "add" || type == "concat" ? ["a", "b"] : ["input"]
            let shapes = inputs.map { _ in [6] }
            let layer = try LayerRegistry.make(node("n", type, inputs, type == "dense" ? ["units": 3] : [:]),
                                               inputShapes: shapes, rng: box)
            XCTAssertEqual(try layer.outputShape(shapes), type == "dense" ? [3] : type == "concat" ? [12] : [6], type)
        }
    }

    /// input [8] -> fc1 -> bn -> relu -> fc2 -> add(fc2, relu) -> drop
    /// -> concat(drop, bn) -> out (dense 3): a residual and a concatenation.
    func graphSpec() -> ModelSpec {
        ModelSpec(inputShape: [8], layers: [
            node("fc1", "dense", ["input"], ["units": 16]),
            node("bn", "batch_norm", ["fc1"]),
            node("relu", "relu", ["bn"]),
            node("fc2", "dense", ["relu"], ["units": 16, "init": "xavier"]),
            node("res", "add", ["fc2", "relu"]),
            node("drop", "dropout", ["res"], ["keep_prob": 0.9]),
            node("cat", "concat", ["drop", "bn"]),
            node("out", "dense", ["cat"], ["units": 3]),
        ])
    }

    func testResidualConcatGraph() throws {
        let model = try GraphModel(spec: graphSpec(), seed: 1)
        XCTAssertEqual(model.outputShape, [3])
        XCTAssertEqual(model.shapes["cat"], [32])
        XCTAssertEqual(model.stateDict.map(\.name), [
            "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias", "out.weight", "out.bias",
            "bn.running_mean", "bn.running_var",
        ])
        XCTAssertEqual(model.parameterCount, 8 * 16 + 16 + 16 + 16 + 16 * 16 + 16 + 32 * 3 + 3)

        var rng = SeededGenerator(seed: 2)
        let x = Tensor.normal([5, 8], std: 1, rng: &rng)
        let labels = [0, 1, 2, 1, 0]
        // Gradient through the whole graph; a fresh context per call repeats the dropout mask.
        let f = { softmaxCrossEntropy(logits: model(x, ForwardContext(training: true, seed: 3)), labels: labels) }
        for (name, p) in model.namedParameters where ["fc1.weight", "bn.weight", "fc2.bias", "out.weight"].contains(name) {
            assertGradient(p, tolerance: 1e-3, name, f)
        }
        assertGradient(x, tolerance: 1e-3, "input", f)

        // Inference is deterministic, records nothing and leaves running statistics alone.
        let rm = model.stateDict.first { $0.name == "bn.running_mean" }!.tensor
        let before = rm.data
        let y1 = model.infer(x), y2 = model.infer(x)
        XCTAssertEqual(y1.data, y2.data)
        XCTAssertNil(y1.node)
        XCTAssertEqual(rm.data, before)
        XCTAssertEqual(y1.shape, [5, 3])
    }

    func testShapeErrorsAtLoad() {
        func error(_ spec: ModelSpec) -> ModelError? {
            do { _ = try GraphModel(spec: spec); return nil } catch { return error as? ModelError }
        }
        XCTAssertEqual(error(ModelSpec(inputShape: [1, 28, 28], layers: [node("fc", "dense", ["input"], ["units": 10])])),
                       .shape("dense 'fc' needs a flat input [features], got [1, 28, 28]; add a flatten layer before it"))
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [
            node("a", "dense", ["input"], ["units": 3]), node("b", "dense", ["input"], ["units": 5]),
            node("sum", "add", ["a", "b"]),
        ])), .shape("add needs inputs of one shape, got [3], [5]"))
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("bn", "batch_norm", ["input"], ["num_features": 3])])),
                       .shape("batch_norm 'bn': num_features 3 but the input has 4 channels"))
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("d", "dropout", ["input"], ["keep_prob": "high"])])),
                       .architecture("layer 'd' (dropout): attribute 'keep_prob' must be a number"))
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("s", "softmax", ["input"], ["axis": 0])])),
                       .shape("softmax: axis 0 is not a non-batch axis of [N] + [4]"))
        // An attribute no builder reads is a typo, named with what the layer takes.
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("d", "dropout", ["input"], ["p": 0.5])])),
                       .architecture("layer 'd' (dropout): unknown attribute 'p' (it takes: keep_prob)"))
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("r", "relu", ["input"], ["inplace": true, "alpha": 1])])),
                       .architecture("layer 'r' (relu): unknown attributes 'alpha', 'inplace' (it takes none)"))
        // A number past Int's exact range is not an integer (it used to trap converting to Int).
        XCTAssertEqual(error(ModelSpec(inputShape: [4], layers: [node("fc", "dense", ["input"], ["units": 1e300])])),
                       .architecture("layer 'fc' (dense): attribute 'units' must be an integer"))
    }

    func testModelJSONRoundTrip() throws {
        // The spec as a client writes it: snake_case attributes.
        let json = """
        {"format": "dlserve-model/1", "input_shape": [2], "output": "prob", "layers": [
          {"name": "fc1", "type": "dense", "inputs": ["input"], "attrs": {"units": 4, "init": "xavier"}},
          {"name": "act", "type": "leaky_relu", "inputs": ["fc1"], "attrs": {"slope": 0.1}},
          {"name": "fc2", "type": "dense", "inputs": ["act"], "attrs": {"out_features": 3, "bias": false}},
          {"name": "prob", "type": "softmax", "inputs": ["fc2"]}
        ]}
        """
        let spec = try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
        let model = try GraphModel(spec: spec, seed: 4)
        XCTAssertEqual(model.namedParameters.map(\.name), ["fc1.weight", "fc1.bias", "fc2.weight"])
        let y = model.infer(Tensor(shape: [3, 2], data: [1, 2, -1, 0.5, 0, 0]))
        XCTAssertEqual(y.shape, [3, 3])
        for r in 0..<3 { XCTAssertEqual(y.data[(r * 3)..<(r * 3 + 3)].reduce(0, +), 1, accuracy: 1e-6) }
    }
}
