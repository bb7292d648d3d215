import DLTensor

/// The names that tie an encoder-decoder `GraphModel` to step-by-step
/// decoding: its source input, its target input, the output whose last axis
/// is the vocabulary, and the id that pads shorter sources in a batch.
public struct EncoderDecoderNames: Sendable, Equatable {
    public var source: String
    public var target: String
    public var output: String
    public var sourcePadding: Int

    public init(source: String = "src", target: String = "tgt", output: String = "logits", sourcePadding: Int = 0) {
        (self.source, self.target, self.output, self.sourcePadding) = (source, target, output, sourcePadding)
    }
}

/// A model.json that cannot be decoded step by step (the serving layer
/// answers it as a bad model, not a crash).
public struct IncrementalDecodingError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// A graph cut in two: the encoder path (nodes that read only the source, run
/// once per source batch) and the decoder path (nodes that read the target,
/// run one token per step). The decoder path may read encoder values only as
/// the memory and memory mask of a `transformer_decoder_layer` or an
/// `additive_attention`; every other decoder-path node must work token by
/// token (or be a layer the step runs with a cache, a carried state or an
/// offset: causal decoder layers, unidirectional recurrent layers,
/// positional encoding). Which of those a stepper can run is its own check
/// (`family`).
struct EncoderDecoderSplit {
    /// The decoder-path layers that need a stepper's care, by family.
    enum Family: String { case transformer, recurrent }

    /// Indices into `model.order`, in topological order.
    let encoderNodes: [Int]
    let decoderNodes: [Int]
    /// Encoder values the decoder path reads (memories and memory masks).
    let boundary: [String]
    /// Per family, the decoder-path node indices (into `model.order`) of
    /// that family: transformer decoder layers; recurrent layers and
    /// additive attentions.
    let family: [Family: [Int]]

    /// Decoder-path layer types that act on each token alone.
    static let perToken: Set<String> = [
        "dense", "layer_norm", "dropout", "relu", "relu6", "leaky_relu", "tanh", "sigmoid", "softmax", "add",
        "embedding", "sequence_mask",
    ]
    static let recurrent: Set<String> = ["gru", "lstm", "rnn"]

    init(_ model: GraphModel, names: EncoderDecoderNames) throws {
        func fail(_ m: String) -> IncrementalDecodingError { IncrementalDecodingError("incremental decoding: " + m) }
        let inputs = model.spec.inputs.map(\.name)
        guard inputs.count == 2, inputs.contains(names.source), inputs.contains(names.target) else {
            throw fail("the model's inputs \(inputs) are not the source '\(names.source)' and the target '\(names.target)'")
        }
        for name in [names.source, names.target] {
            guard model.spec.inputs.first(where: { $0.name == name })!.shape == [-1] else {
                throw fail("input '\(name)' must be token ids of shape [-1]")
            }
        }
        guard model.spec.outputs.contains(names.output) else {
            throw fail("the model has no output '\(names.output)' (outputs \(model.spec.outputs))")
        }
        // Which inputs each value depends on.
        var readsSource: [String: Bool] = [names.source: true, names.target: false]
        var readsTarget: [String: Bool] = [names.source: false, names.target: true]
        var encoder: [Int] = [], decoder: [Int] = [], boundary: [String] = []
        var family: [Family: [Int]] = [:]
        for (i, l) in model.order.enumerated() {
            readsSource[l.name] = l.inputs.contains { readsSource[$0]! }
            readsTarget[l.name] = l.inputs.contains { readsTarget[$0]! }
            guard readsTarget[l.name]! else { encoder.append(i); continue }
            decoder.append(i)
            let encoderInputs: [String]
            switch l.type {
            case "transformer_decoder_layer":
                let layer = model.layers[i] as! TransformerDecoderLayer
                guard layer.selfAttn.causal else {
                    throw fail("transformer_decoder_layer '\(l.name)' is not causal: a step cannot see later tokens")
                }
                let (x, xMask, memory, memoryMask) = TransformerDecoderLayer.split(l.inputs)!
                for v in [x] + (xMask.map { [$0] } ?? []) where !readsTarget[v]! {
                    throw fail("transformer_decoder_layer '\(l.name)' input '\(v)' must depend on the target")
                }
                encoderInputs = [memory] + (memoryMask.map { [$0] } ?? [])
                for v in encoderInputs where readsTarget[v]! {
                    throw fail("transformer_decoder_layer '\(l.name)' memory input '\(v)' must not depend on the target")
                }
                family[.transformer, default: []].append(i)
            case "additive_attention":
                guard readsTarget[l.inputs[0]]! else {
                    throw fail("additive_attention '\(l.name)' query '\(l.inputs[0])' must depend on the target")
                }
                encoderInputs = Array(l.inputs.dropFirst())
                for v in encoderInputs where readsTarget[v]! {
                    throw fail("additive_attention '\(l.name)' memory input '\(v)' must not depend on the target")
                }
                family[.recurrent, default: []].append(i)
            case let t where Self.recurrent.contains(t):
                guard !(model.layers[i] as! Recurrent).bidirectional else {
                    throw fail("\(t) '\(l.name)' is bidirectional: a step cannot see later tokens")
                }
                encoderInputs = []
                family[.recurrent, default: []].append(i)
            case "concat":
                // Per token only when it joins features (the last axis), not time steps.
                let axis = (model.layers[i] as! Concat).axis, rank = model.shapes[l.name]!.count + 1
                guard axis == -1 || axis == rank - 1 else {
                    throw fail("concat '\(l.name)' joins axis \(axis), not the features: it cannot run one token at a time")
                }
                encoderInputs = []
            case "positional_encoding":
                encoderInputs = []
            case let t where Self.perToken.contains(t):
                encoderInputs = []
            default:
                throw fail("layer '\(l.name)' (\(l.type)) reads the target but cannot run one token at a time")
            }
            for v in l.inputs where !encoderInputs.contains(v) && !readsTarget[v]! {
                throw fail("layer '\(l.name)' reads '\(v)', which depends on the source; only a decoder layer's memory inputs may")
            }
            for v in encoderInputs where !boundary.contains(v) { boundary.append(v) }
        }
        guard readsTarget[names.output]! else { throw fail("output '\(names.output)' does not depend on the target") }
        guard model.shapes[names.output]!.count == 2 else {
            throw fail("output '\(names.output)' has shape \(model.shapes[names.output]!), not [T, V]")
        }
        (encoderNodes, decoderNodes, self.boundary, self.family) = (encoder, decoder, boundary, family)
    }
}

extension EncoderDecoderSplit {
    /// Throws unless every decoder-path layer that needs stepping belongs to
    /// `supported` (the stepper's own family).
    func require(_ supported: Family, model: GraphModel, stepper: String) throws {
        for (f, nodes) in family where f != supported {
            let l = model.order[nodes[0]]
            throw IncrementalDecodingError(
                "incremental decoding: \(stepper) cannot step layer '\(l.name)' (\(l.type)), a layer of the \(f.rawValue) decoder family")
        }
    }

    /// The family of the graph's stepping layers (nil when it has none, or both).
    var onlyFamily: Family? { family.count == 1 ? family.keys.first : nil }
}

extension EncoderDecoderSplit {
    /// The embeddings that read the source ids directly (to reject bad ids).
    static func sourceEmbeddings(_ model: GraphModel, names: EncoderDecoderNames) -> [Embedding] {
        zip(model.order, model.layers).compactMap { l, layer in l.inputs.contains(names.source) ? layer as? Embedding : nil }
    }

    /// The encoder pass both steppers start with: the sources padded with
    /// `names.sourcePadding` to [N, S], ids checked against `embeddings`,
    /// every encoder node run once in inference mode. Returns the values by
    /// node name (and the source itself), without recording autodiff.
    func encode(_ sources: [[Int]], model: GraphModel, names: EncoderDecoderNames,
                embeddings: [Embedding]) throws -> [String: Tensor] {
        let n = sources.count, s = max(1, sources.map(\.count).max() ?? 0)
        var ids = [Float](repeating: Float(names.sourcePadding), count: n * s)
        for (i, q) in sources.enumerated() { for (j, t) in q.enumerated() { ids[i * s + j] = Float(t) } }
        for embedding in embeddings where !embedding.validIDs(ids) {
            throw IncrementalDecodingError("a source token id is outside the vocabulary of \(embedding.vocabSize)")
        }
        return GradMode.withoutGrad {
            let ctx = ForwardContext.inference()
            var values: [String: Tensor] = [names.source: Tensor(shape: [n, s], data: ids)]
            for i in encoderNodes {
                let l = model.order[i]
                values[l.name] = model.layers[i](l.inputs.map { values[$0]! }, ctx)
            }
            return values
        }
    }
}
