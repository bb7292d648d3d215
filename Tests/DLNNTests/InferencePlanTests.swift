import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The compiled inference plan computes what the graph computes: batch norm
/// folded into convolutions and dense layers, activations fused, flatten and
/// dropout free, other layers through their own forward, buffers reused.
final class InferencePlanTests: XCTestCase {
    static func node(_ name: String, _ type: String, _ inputs: [String], _ attrs: [String: JSONValue] = [:]) -> LayerSpec {
        LayerSpec(name: name, type: type, inputs: inputs, attrs: attrs)
    }

    /// Every fusion case and a few that must not fuse: `c1` has two readers
    /// (its batch norm and the residual add), `c3` takes its batch norm, the
    /// residual add after it and the activation after that, `bn_side` is
    /// standalone, the output softmax runs through the layer fallback.
    static var spec: ModelSpec {
        let conv3: [String: JSONValue] = ["out_channels": 6, "kernel_size": 3, "padding": 1, "bias": false]
        return ModelSpec(inputShape: [2, 9, 9], layers: [
            node("c0", "conv2d", ["input"], ["out_channels": 6, "kernel_size": 3, "padding": 1]),
            node("bn0", "batch_norm", ["c0"]),
            node("r0", "relu", ["bn0"]),
            node("c1", "conv2d", ["r0"], conv3),
            node("bn1", "batch_norm", ["c1"]),
            node("r1", "leaky_relu", ["bn1"], ["slope": 0.1]),
            node("add", "add", ["r1", "c1"]),
            node("r2", "relu", ["add"]),
            node("c3", "conv2d", ["r2"], conv3),
            node("bn3", "batch_norm", ["c3"]),
            node("res", "add", ["bn3", "r2"]),
            node("r3", "relu", ["res"]),
            node("bn_side", "batch_norm", ["r3"]),
            node("short", "conv2d", ["bn_side"], ["out_channels": 8, "kernel_size": 1, "stride": 2]),
            node("pool", "max_pool2d", ["bn_side"], ["kernel_size": 2, "stride": 2, "padding": 0]),
            node("c2", "conv2d", ["pool"], ["out_channels": 8, "kernel_size": 3, "padding": 1, "stride": 1, "bias": false]),
            node("bn2", "batch_norm", ["c2"]),
            node("avg", "avg_pool2d", ["bn2"], ["kernel_size": 2]),
            node("flat", "flatten", ["avg"]),
            node("drop", "dropout", ["flat"], ["keep_prob": 0.5]),
            node("fc1", "dense", ["drop"], ["units": 12, "bias": false]),
            node("bn_fc", "batch_norm", ["fc1"]),
            node("t", "tanh", ["bn_fc"]),
            node("fc2", "dense", ["t"], ["units": 5]),
            node("gap_in", "global_avg_pool", ["short"]),
            node("gap_fc", "dense", ["gap_in"], ["units": 5]),
            node("sum", "add", ["fc2", "gap_fc"]),
            node("soft", "softmax", ["sum"]),
        ])
    }

    /// A model with trained-looking batch norms (statistics far from 0 and 1).
    static func model(seed: UInt64 = 3) throws -> GraphModel {
        let model = try GraphModel(spec: spec, seed: seed)
        var rng = SeededGenerator(seed: seed + 10)
        for layer in model.layers {
            guard let bn = layer as? BatchNorm else { continue }
            for j in 0..<bn.numFeatures {
                bn.runningMean.data[j] = Float.random(in: -1...1, using: &rng)
                bn.runningVar.data[j] = Float.random(in: 0.2...3, using: &rng)
                bn.weight.data[j] = Float.random(in: 0.5...1.5, using: &rng)
                bn.bias.data[j] = Float.random(in: -0.5...0.5, using: &rng)
            }
        }
        return model
    }

    func testThePlanComputesWhatTheGraphComputes() throws {
        let model = try Self.model()
        let plan = InferencePlan(model)
        var rng = SeededGenerator(seed: 5)
        // Several batch sizes on one plan: buffers grow and are reused.
        for n in [1, 5, 2, 7] {
            let x = Tensor.uniform([n, 2, 9, 9], low: -1, high: 1, rng: &rng)
            assertClose(plan.run(x), model.infer(x), rtol: 1e-4, atol: 1e-5, "batch \(n)")
        }
    }

    func testBatchesCutIntoPiecesGiveTheSameAnswers() throws {
        let model = try Self.model()
        var rng = SeededGenerator(seed: 6)
        let x = Tensor.uniform([11, 2, 9, 9], low: -1, high: 1, rng: &rng)
        let expected = model.infer(x)
        for rows in [1, 2, 3, 11, 64] {
            let plan = InferencePlan(model, rowsPerPiece: rows)
            XCTAssertEqual(plan.rowsPerPiece, rows)
            assertClose(plan.run(x), expected, rtol: 1e-4, atol: 1e-5, "\(rows) rows per piece")
        }
        // The cache-sized default: the widest step here holds 6 * 9 * 9 values per row.
        XCTAssertEqual(InferencePlan(model).rowsPerPiece, 64)
    }

    func testTheRewritesThatShouldHappenDoAndTheOthersDoNot() throws {
        let plan = InferencePlan(try Self.model())
        let s = plan.summary
        XCTAssertTrue(s.contains { $0.hasPrefix("c0+bn0+r0: conv 3x3/1 -> 6 + relu") }, "\(s)")
        // c1 is read twice: its batch norm cannot be folded into it.
        XCTAssertTrue(s.contains { $0.hasPrefix("c1: conv") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("bn1+r1: batch_norm + leakyRelu") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("add+r2: add + relu") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("c3+bn3+res+r3: conv 3x3/1 -> 6 + add + relu") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("c2+bn2: conv") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("fc1+bn_fc+t: dense 32 -> 12 + tanh") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("soft: layer Softmax") }, "\(s)")
        XCTAssertFalse(s.contains { $0.contains("flat") || $0.contains("drop") }, "\(s)")
        XCTAssertEqual(s.count, 16, "\(s)")
    }

    func testConcurrentCallersGetTheirOwnBuffers() throws {
        let model = try Self.model()
        let plan = InferencePlan(model)
        var rng = SeededGenerator(seed: 9)
        let inputs = (0..<8).map { i in Tensor.uniform([1 + i % 3, 2, 9, 9], low: -1, high: 1, rng: &rng) }
        let expected = inputs.map { model.infer($0).data }
        let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: inputs.count * 20)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: inputs.count * 20) { k in
            results[k] = plan.run(inputs[k % inputs.count]).data
        }
        for k in 0..<results.count {
            assertClose(results[k], expected[k % inputs.count], rtol: 1e-4, atol: 1e-5, "call \(k)")
        }
    }

    func testAnEmptyBatchGivesAnEmptyOutput() throws {
        let plan = InferencePlan(try Self.model())
        let y = plan.run(Tensor(shape: [0, 2, 9, 9], data: []))
        XCTAssertEqual(y.shape, [0, 5])
    }
}
