import DLNN
import DLTensor
import Foundation
import XCTest

/// Small random-weight encoder-decoder model.json graphs for the key/value
/// cache tests, and a decoder that recomputes the whole prefix at every step
/// through `GraphModel.infer(inputs:)` (the reference the cached one must equal).
enum Seq2Seq {
    /// Ids: 0 padding, 1 start, 2 end, 3..<vocab tokens.
    static let vocab = 11, pad = 0, bos = 1, eos = 2

    /// src/tgt model: embedding + positional encoding + one encoder layer;
    /// target embedding + positional encoding (offset matters) + two decoder
    /// layers (the first with a target mask, the second without) + a
    /// per-token layer norm and dense head. All weights drawn at random
    /// (biases and norms included) so no term vanishes.
    static func model(normFirst: Bool, seed: UInt64 = 5) throws -> GraphModel {
        let model = try GraphModel(spec: spec(normFirst: normFirst), seed: seed)
        var rng = SeededGenerator(seed: seed &+ 100)
        for (_, t) in model.namedParameters {
            for i in 0..<t.count { t.data[i] = 1.2 * rng.uniform() - 0.6 }
        }
        return model
    }

    static func spec(normFirst: Bool) -> ModelSpec {
        let attrs: [String: JSONValue] = ["num_heads": 2, "dim_feedforward": 24, "dropout": 0.1,
                                          "norm_first": JSONValue(booleanLiteral: normFirst)]
        let dim: JSONValue = 8, v = JSONValue(integerLiteral: vocab)
        return ModelSpec(
            inputs: [InputSpec(name: "src", shape: [-1], dtype: "int64"), InputSpec(name: "tgt", shape: [-1], dtype: "int64")],
            layers: [
                LayerSpec(name: "src_mask", type: "sequence_mask", inputs: ["src"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "tgt_mask", type: "sequence_mask", inputs: ["tgt"], attrs: ["padding_idx": 0]),
                LayerSpec(name: "src_embed", type: "embedding", inputs: ["src"], attrs: ["vocab_size": v, "dim": dim, "padding_idx": 0]),
                LayerSpec(name: "src_pos", type: "positional_encoding", inputs: ["src_embed"], attrs: ["scale_input": true]),
                LayerSpec(name: "memory", type: "transformer_encoder_layer", inputs: ["src_pos", "src_mask"], attrs: attrs),
                LayerSpec(name: "tgt_embed", type: "embedding", inputs: ["tgt"], attrs: ["vocab_size": v, "dim": dim, "padding_idx": 0]),
                LayerSpec(name: "tgt_pos", type: "positional_encoding", inputs: ["tgt_embed"], attrs: ["scale_input": true]),
                LayerSpec(name: "dec1", type: "transformer_decoder_layer", inputs: ["tgt_pos", "tgt_mask", "memory", "src_mask"], attrs: attrs),
                LayerSpec(name: "dec2", type: "transformer_decoder_layer", inputs: ["dec1", "memory", "src_mask"], attrs: attrs),
                LayerSpec(name: "final_norm", type: "layer_norm", inputs: ["dec2"]),
                LayerSpec(name: "logits", type: "dense", inputs: ["final_norm"], attrs: ["units": v]),
            ],
            outputs: ["logits"])
    }

    /// Teacher-forced log-probabilities of `model` for padded sources and
    /// full targets: [N, T, V].
    static func teacherForced(_ model: GraphModel, sources: [[Int]], targets: [[Int]]) -> Tensor {
        let logits = model.infer(inputs: ["src": padded(sources), "tgt": padded(targets)])["logits"]!
        return logits.logSoftmax(axis: -1)
    }

    static func padded(_ rows: [[Int]]) -> Tensor {
        let l = max(1, rows.map(\.count).max()!)
        var ids = [Float](repeating: Float(pad), count: rows.count * l)
        for (i, r) in rows.enumerated() { for (j, t) in r.enumerated() { ids[i * l + j] = Float(t) } }
        return Tensor(shape: [rows.count, l], data: ids)
    }
}

/// The prefix fed so far, per row, and nothing else.
struct PrefixState: DecoderState {
    var sources: [[Int]]
    var fed: [[Int]]
    var rowCount: Int { fed.count }
    func selecting(rows: [Int]) -> PrefixState {
        PrefixState(sources: rows.map { sources[$0] }, fed: rows.map { fed[$0] })
    }
}

/// Recomputes the whole prefix of every row, one source at a time, each step.
struct RecomputingDecoder: IncrementalDecoder {
    let model: GraphModel
    var vocabularySize: Int { Seq2Seq.vocab }

    func start(_ sources: [[Int]]) -> PrefixState {
        PrefixState(sources: sources, fed: sources.map { _ in [] })
    }

    func step(_ state: PrefixState, keeping rows: [Int], lastTokens: [Int]) -> (logProbabilities: Tensor, state: PrefixState) {
        var next = state.selecting(rows: rows)
        var out: [Float] = []
        for i in 0..<rows.count {
            next.fed[i].append(lastTokens[i])
            let lp = Seq2Seq.teacherForced(model, sources: [next.sources[i]], targets: [next.fed[i]])
            out += lp.data.suffix(vocabularySize)
        }
        return (Tensor(shape: [rows.count, vocabularySize], data: out), next)
    }
}

/// Two value rows agree: same length, largest absolute difference within `tolerance`.
func assertRowsClose(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, _ what: String, tolerance: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, what, file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): largest difference \(worst)", file: file, line: line)
}

extension Seq2Seq {
    /// Steps `decoder` two positions on rows 0, 1, 2 with `targets`, then
    /// forks: new rows continue parents [2, 0, 0] with tokens [8, 5, 9], and
    /// each new row's log-probabilities equal teacher forcing of its parent's
    /// prefix plus its token (rows repeated and dropped keep their parent's
    /// state); then stepping no rows gives [0, V] and an empty state.
    static func checkForkedRows<D: IncrementalDecoder>(_ decoder: D, model: GraphModel, sources: [[Int]], targets: [[Int]],
                                                       _ label: String, file: StaticString = #filePath, line: UInt = #line) throws
        where D.Source == [Int] {
        var state = try decoder.start(sources)
        for p in 0..<2 { state = try decoder.step(state, keeping: [0, 1, 2], lastTokens: targets.map { $0[p] }).state }
        let tokens = [8, 5, 9]
        let (lp, next) = try decoder.step(state, keeping: [2, 0, 0], lastTokens: tokens)
        XCTAssertEqual(next.rowCount, 3, file: file, line: line)
        for (i, parent) in [2, 0, 0].enumerated() {
            let prefix = Array(targets[parent].prefix(2)) + [tokens[i]]
            let alone = teacherForced(model, sources: [sources[parent]], targets: [prefix])
            assertRowsClose(lp.data[(i * vocab)..<((i + 1) * vocab)], alone.data.suffix(vocab), "\(label) new row \(i) (parent \(parent))",
                            file: file, line: line)
        }
        let (empty, none) = try decoder.step(next, keeping: [], lastTokens: [])
        XCTAssertEqual(empty.shape, [0, vocab], file: file, line: line)
        XCTAssertEqual(none.rowCount, 0, file: file, line: line)
    }
}
