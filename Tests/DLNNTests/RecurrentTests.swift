import DLKernels
import DLNN
import DLTensor
import DLTesting
import XCTest

/// Recurrent layers, embedding, sequence mask and pooling, layer norm:
/// finite-difference gradients, padded batches against sequences alone, and
/// model.json validation. PyTorch fixtures are in RecurrentFixtureTests.
final class RecurrentTests: XCTestCase {
    let train = ForwardContext(training: true)

    /// Lengths [4, 2, 1] padded to T = 4.
    func mask(_ lengths: [Int], _ t: Int) -> Tensor {
        Tensor(shape: [lengths.count, t], data: lengths.flatMap { l in (0..<t).map { $0 < l ? 1 : 0 } })
    }

    func checkGradients(_ cell: Kernels.RecurrentCell, bidirectional: Bool, layers: Int) {
        var rng = SeededGenerator(seed: 7)
        let layer = Recurrent(cell: cell, inputSize: 3, hiddenSize: 4, numLayers: layers,
                              bidirectional: bidirectional, rng: &rng)
        let x = Tensor.normal([3, 4, 3], std: 1, rng: &rng)
        let m = mask([4, 2, 1], 4)
        let w = Tensor.normal([3, 4, layer.directions * 4], std: 1, rng: &rng)
        let f = { (layer([x, m], self.train) * w).sum() }
        let name = "\(cell) bi=\(bidirectional) layers=\(layers)"
        assertGradient(x, epsilon: 1e-2, tolerance: 2e-3, "\(name) x", f)
        for (pname, p) in layer.parameters {
            assertGradient(p, epsilon: 1e-2, tolerance: 2e-3, "\(name) \(pname)", f)
        }
    }

    func testRNNGradients() { checkGradients(.rnn, bidirectional: false, layers: 1) }
    func testGRUGradients() { checkGradients(.gru, bidirectional: false, layers: 1) }
    func testLSTMGradients() { checkGradients(.lstm, bidirectional: false, layers: 1) }
    func testBidirectionalStackedGRUGradients() { checkGradients(.gru, bidirectional: true, layers: 2) }
    func testBidirectionalStackedLSTMGradients() { checkGradients(.lstm, bidirectional: true, layers: 2) }

    /// `"merge": "sum"` adds the two directions: the concat layer's halves
    /// summed (same weights), and its gradients by finite differences.
    func testBidirectionalSumMerge() throws {
        var rng = SeededGenerator(seed: 9)
        let concat = Recurrent(cell: .gru, inputSize: 3, hiddenSize: 4, bidirectional: true, rng: &rng)
        var rng2 = SeededGenerator(seed: 9)
        let sum = Recurrent(cell: .gru, inputSize: 3, hiddenSize: 4, bidirectional: true, merge: .sum, rng: &rng2)
        XCTAssertEqual(try sum.outputShape([[-1, 3]]), [-1, 4])
        XCTAssertEqual(try concat.outputShape([[-1, 3]]), [-1, 8])
        let x = Tensor.normal([3, 4, 3], std: 1, rng: &rng)
        let m = mask([4, 2, 1], 4)
        let y = concat([x, m], ForwardContext(training: false)).data
        let z = sum([x, m], ForwardContext(training: false)).data
        var expected: [Float] = []
        for row in 0..<12 { for h in 0..<4 { expected.append(y[row * 8 + h] + y[row * 8 + 4 + h]) } }
        assertClose(z, expected, rtol: 1e-6, atol: 1e-6)
        let w = Tensor.normal([3, 4, 4], std: 1, rng: &rng)
        let f = { (sum([x, m], self.train) * w).sum() }
        assertGradient(x, epsilon: 1e-2, tolerance: 2e-3, "sum x", f)
        for (pname, p) in sum.parameters { assertGradient(p, epsilon: 1e-2, tolerance: 2e-3, "sum \(pname)", f) }
        let spec = LayerSpec(name: "gru", type: "gru", inputs: ["x"], attrs: ["hidden_size": 4, "bidirectional": true, "merge": "mean"])
        XCTAssertThrowsError(try Recurrent(spec: spec, inputShapes: [[-1, 3]], rng: &rng))
    }

    /// A padded batch gives every sequence what it gets alone (to the last bits
    /// of float rounding: the product kernels block differently for other batch sizes).
    func testPaddedBatchMatchesEachSequenceAlone() {
        for cell in Kernels.RecurrentCell.allCases {
            var rng = SeededGenerator(seed: 3)
            let layer = Recurrent(cell: cell, inputSize: 5, hiddenSize: 6, numLayers: 2, bidirectional: true, rng: &rng)
            let lengths = [6, 3, 1, 5]
            let x = Tensor.normal([4, 6, 5], std: 1, rng: &rng)
            let batch = layer.infer([x, mask(lengths, 6)])
            for (b, l) in lengths.enumerated() {
                let alone = Tensor(shape: [1, l, 5], data: Array(x.data[(b * 30)..<(b * 30 + l * 5)]))
                let y = layer.infer([alone])
                let rows = Array(batch.data[(b * 6 * 12)..<(b * 6 * 12 + l * 12)])
                // Equal up to the rounding of the products, which BLAS blocks by batch size.
                assertClose(rows, y.data, rtol: 1e-5, atol: 1e-6, "\(cell) sequence \(b)")
                // Padded steps output zeros.
                XCTAssertTrue(batch.data[(b * 6 * 12 + l * 12)..<((b + 1) * 6 * 12)].allSatisfy { $0 == 0 })
            }
        }
    }

    /// GRU by hand, one step, H = 1, I = 1, all weights 0.5, biases 0, x = 1, h0 = 0:
    /// r = z = σ(0.5), n = tanh(0.5 + r * 0) = tanh(0.5), h = (1 - z) n.
    func testGRUOneStepByHand() {
        var rng = SeededGenerator(seed: 1)
        let layer = Recurrent(cell: .gru, inputSize: 1, hiddenSize: 1, rng: &rng)
        for (_, p) in layer.parameters { p.data = p.data.map { _ in p.shape.count == 2 ? 0.5 : 0 } }
        let y = layer.infer([Tensor(shape: [1, 1, 1], data: [1])])
        let s = 1 / (1 + Foundation.exp(-0.5)), n = Foundation.tanh(0.5)
        XCTAssertEqual(Double(y.data[0]), (1 - s) * n, accuracy: 1e-6)
    }

    func testEmbeddingGradientAndPadding() {
        var rng = SeededGenerator(seed: 5)
        let e = Embedding(vocabSize: 6, dim: 3, paddingIndex: 0, rng: &rng)
        XCTAssertEqual(Array(e.weight.data[0..<3]), [0, 0, 0])
        let ids = Tensor(shape: [2, 3], data: [1, 4, 4, 2, 0, 0])
        let w = Tensor.normal([2, 3, 3], std: 1, rng: &rng)
        let y = e(ids, train)
        XCTAssertEqual(y.shape, [2, 3, 3])
        XCTAssertEqual(Array(y.data[3..<6]), Array(e.weight.data[12..<15]))
        (y * w).sum().backward()
        let g = e.weight.grad!
        // Row 4 read twice accumulates both; the padding row gets nothing.
        for j in 0..<3 { XCTAssertEqual(g[12 + j], w.data[3 + j] + w.data[6 + j], accuracy: 1e-6) }
        XCTAssertEqual(Array(g[0..<3]), [0, 0, 0])
        XCTAssertEqual(Array(g[15..<18]), [0, 0, 0])
        XCTAssertTrue(e.validIDs([0, 5, 3]))
        XCTAssertFalse(e.validIDs([6]))
        XCTAssertFalse(e.validIDs([1.5]))
        XCTAssertFalse(e.validIDs([-1]))
    }

    func testSequencePoolModes() {
        // x [1, 3, 2] with two real steps.
        let x = Tensor(shape: [1, 3, 2], data: [1, 5, 3, 2, 9, 9])
        let m = Tensor(shape: [1, 3], data: [1, 1, 0])
        XCTAssertEqual(SequencePool(mode: .max)([x, m], train).data, [3, 5])
        XCTAssertEqual(SequencePool(mode: .mean)([x, m], train).data, [2, 3.5])
        XCTAssertEqual(SequencePool(mode: .last)([x, m], train).data, [3, 2])
        // Bidirectional: forward half from the last real step, reverse half from step 0.
        XCTAssertEqual(SequencePool(mode: .last, directions: 2)([x, m], train).data, [3, 5])
        // An empty sequence pools to 0.
        XCTAssertEqual(SequencePool(mode: .max)([x, Tensor(zeros: [1, 3])], train).data, [0, 0])
        var rng = SeededGenerator(seed: 9)
        let xs = Tensor.normal([3, 4, 5], std: 1, rng: &rng)
        let w = Tensor.normal([3, 5], std: 1, rng: &rng)
        for mode in SequencePool.Mode.allCases {
            let pool = SequencePool(mode: mode, directions: mode == .last ? 1 : 1)
            assertGradient(xs, tolerance: 1e-3, "\(mode)") { (pool([xs, self.mask([4, 2, 1], 4)], self.train) * w).sum() }
        }
    }

    /// Inference pools through the vector kernels, training through the
    /// recording loops: the same numbers (11 features: a vector and a tail).
    func testSequencePoolInferenceMatchesRecordingPath() {
        var rng = SeededGenerator(seed: 4)
        let x = Tensor.normal([3, 5, 11], std: 1, rng: &rng)
        let m = mask([5, 2, 0], 5)
        for mode in [SequencePool.Mode.max, .mean] {
            let pool = SequencePool(mode: mode)
            let fast = pool.infer([x, m])
            x.requiresGrad = true
            let recorded = pool([x, m], train)
            x.requiresGrad = false
            XCTAssertEqual(fast.shape, [3, 11])
            XCTAssertEqual(fast.data, recorded.data, "\(mode)")
        }
    }

    func testSequenceMask() {
        let ids = Tensor(shape: [2, 3], data: [4, 2, 0, 7, 0, 0])
        XCTAssertEqual(SequenceMask(paddingIndex: 0)(ids, train).data, [1, 1, 0, 1, 0, 0])
    }

    func testLayerNormGradients() {
        var rng = SeededGenerator(seed: 11)
        let ln = LayerNorm(features: 5)
        ln.weight.data = Tensor.uniform([5], low: 0.5, high: 1.5, rng: &rng).data
        ln.bias.data = Tensor.normal([5], std: 1, rng: &rng).data
        let x = Tensor.normal([2, 3, 5], std: 2, rng: &rng)
        let w = Tensor.normal([2, 3, 5], std: 1, rng: &rng)
        let f = { (ln(x, self.train) * w).sum() }
        assertGradient(x, tolerance: 2e-3, "x", f)
        assertGradient(ln.weight, tolerance: 1e-3, "weight", f)
        assertGradient(ln.bias, tolerance: 1e-3, "bias", f)
        // Each row has mean 0 and variance ~1 before the affine part.
        let y = LayerNorm(features: 5)(x, train)
        let row = Array(y.data[0..<5])
        XCTAssertEqual(row.reduce(0, +) / 5, 0, accuracy: 1e-5)
    }

    /// A text classifier graph with a variable sequence length, from model.json.
    func testSequenceGraphFromSpec() throws {
        let spec = ModelSpec(inputShape: [-1], layers: [
            LayerSpec(name: "mask", type: "sequence_mask", inputs: ["input"], attrs: ["padding_idx": 0]),
            LayerSpec(name: "embed", type: "embedding", inputs: ["input"], attrs: ["vocab_size": 10, "dim": 4, "padding_idx": 0]),
            LayerSpec(name: "gru", type: "gru", inputs: ["embed", "mask"], attrs: ["hidden_size": 3, "bidirectional": true]),
            LayerSpec(name: "pool", type: "sequence_pool", inputs: ["gru", "mask"], attrs: ["mode": "max"]),
            LayerSpec(name: "logits", type: "dense", inputs: ["pool"], attrs: ["units": 2]),
        ])
        let model = try GraphModel(spec: spec, seed: 1)
        XCTAssertEqual(model.outputShape, [2])
        XCTAssertEqual(model.shapes["gru"], [-1, 6])
        XCTAssertEqual(model.namedParameters.map(\.name).filter { $0.hasPrefix("gru.") }, [
            "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
            "gru.weight_ih_l0_reverse", "gru.weight_hh_l0_reverse", "gru.bias_ih_l0_reverse", "gru.bias_hh_l0_reverse",
        ])
        let batch = model.infer(Tensor(shape: [2, 5], data: [3, 4, 5, 0, 0, 9, 8, 7, 6, 5]))
        let alone = model.infer(Tensor(shape: [1, 3], data: [3, 4, 5]))
        // The recurrent steps and the pooling treat every row alone; the BLAS
        // products (the input projection over the real steps, the dense layer's
        // matrix-vector product at batch 1) may round differently by batch size.
        assertClose(Array(batch.data[0..<2]), alone.data, rtol: 0, atol: 1e-6)
        XCTAssertTrue(model.accepts([7]))
        XCTAssertFalse(model.accepts([7, 1]))
        // A recurrent layer on a flat input is rejected at load time.
        let bad = ModelSpec(inputShape: [8], layers: [
            LayerSpec(name: "gru", type: "gru", inputs: ["input"], attrs: ["hidden_size": 3]),
        ])
        XCTAssertThrowsError(try GraphModel(spec: bad))
    }
}

extension Layer {
    /// Inference without recording.
    func infer(_ inputs: [Tensor]) -> Tensor { GradMode.withoutGrad { self(inputs, .inference()) } }
}
