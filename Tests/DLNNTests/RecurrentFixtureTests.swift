import DLKernels
import DLNN
import DLTensor
import DLTesting
import XCTest

/// Recurrent layers, embedding and layer norm against PyTorch 2.13
/// (`nn.RNN`/`nn.GRU`/`nn.LSTM` over packed sequences, `nn.Embedding` with
/// padding_idx, `nn.LayerNorm`), from scripts/fixtures/rnn_fixtures.py:
/// outputs and the gradients of sum(y * gy), within 1e-4.
final class RecurrentFixtureTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "rnn", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    func check(_ p: String, _ cell: Kernels.RecurrentCell, bidirectional: Bool = false, layers: Int = 1) throws {
        let x = try XCTUnwrap(f["\(p)_x"]), lengths = try XCTUnwrap(f["\(p)_lengths"]).data.map { Int($0) }
        let (n, t, i) = (x.shape[0], x.shape[1], x.shape[2])
        let hidden = try XCTUnwrap(f["\(p)_weight_hh_l0"]).shape[1]
        var rng = SeededGenerator(seed: 0)
        let layer = Recurrent(cell: cell, inputSize: i, hiddenSize: hidden, numLayers: layers,
                              bidirectional: bidirectional, rng: &rng)
        // PyTorch's state dict loads by name.
        for (name, param) in layer.parameters {
            let w = try XCTUnwrap(f["\(p)_\(name)"], "\(p)_\(name)")
            XCTAssertEqual(param.shape, w.shape, name)
            param.data = w.data
        }
        let mask = Tensor(shape: [n, t], data: lengths.flatMap { l in (0..<t).map { $0 < l ? 1 : 0 } })
        x.requiresGrad = true
        let y = layer([x, mask], ForwardContext(training: true))
        assertClose(y, try XCTUnwrap(f["\(p)_y"]), "\(p) y")
        let pooled = SequencePool(mode: .last, directions: layer.directions)([y.detached(), mask], .inference())
        assertClose(pooled, try XCTUnwrap(f["\(p)_hlast"]), "\(p) h_n")
        (y * f["\(p)_gy"]!).sum().backward()
        assertClose(Tensor(shape: x.shape, data: x.grad!), f["\(p)_gx"]!, "\(p) gx")
        for (name, param) in layer.parameters {
            assertClose(Tensor(shape: param.shape, data: param.grad!), try XCTUnwrap(f["\(p)_grad_\(name)"]), "\(p) grad \(name)")
        }
    }

    func testRNN() throws { try check("rnn", .rnn) }
    func testGRU() throws { try check("gru", .gru) }
    func testLSTM() throws { try check("lstm", .lstm) }
    func testBidirectionalGRU() throws { try check("gru_bi", .gru, bidirectional: true) }
    func testBidirectionalLSTM() throws { try check("lstm_bi", .lstm, bidirectional: true) }
    func testStackedLSTM() throws { try check("lstm_stack", .lstm, layers: 2) }
    func testStackedBidirectionalGRU() throws { try check("gru_bi_stack", .gru, bidirectional: true, layers: 2) }
    func testGRUWithoutPadding() throws { try check("gru_full", .gru) }

    func testEmbedding() throws {
        let w = try XCTUnwrap(f["embed_w"])
        var rng = SeededGenerator(seed: 0)
        let e = Embedding(vocabSize: w.shape[0], dim: w.shape[1], paddingIndex: 0, rng: &rng)
        e.weight.data = w.data
        let y = e(f["embed_ids"]!, ForwardContext(training: true))
        assertClose(y, f["embed_y"]!)
        (y * f["embed_gy"]!).sum().backward()
        assertClose(Tensor(shape: w.shape, data: e.weight.grad!), f["embed_gw"]!)
    }

    func testLayerNorm() throws {
        let x = try XCTUnwrap(f["layernorm_x"])
        let ln = LayerNorm(features: x.shape.last!, eps: f["layernorm_eps"]!.scalar)
        ln.weight.data = f["layernorm_weight"]!.data
        ln.bias.data = f["layernorm_bias"]!.data
        x.requiresGrad = true
        let y = ln(x, ForwardContext(training: true))
        assertClose(y, f["layernorm_y"]!)
        (y * f["layernorm_gy"]!).sum().backward()
        assertClose(Tensor(shape: x.shape, data: x.grad!), f["layernorm_gx"]!)
        assertClose(Tensor(shape: [x.shape.last!], data: ln.weight.grad!), f["layernorm_gweight"]!)
        assertClose(Tensor(shape: [x.shape.last!], data: ln.bias.grad!), f["layernorm_gbias"]!)
    }
}
