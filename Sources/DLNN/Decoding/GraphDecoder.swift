import DLTensor

/// The incremental decoder of an encoder-decoder `GraphModel`, whichever
/// family its decoder path belongs to: `transformer_decoder_layer`s
/// (`EncoderDecoderStepper`, a key/value cache) or recurrent layers with
/// `additive_attention` (`RecurrentStepper`, a carried state). One concrete
/// type, so callers (the server, evaluation) drive either through the
/// generic `decode(...)` without knowing which.
public enum GraphDecoder: IncrementalDecoder, @unchecked Sendable {
    case transformer(EncoderDecoderStepper)
    case recurrent(RecurrentStepper)

    public typealias Source = [Int]

    /// The state of whichever stepper runs.
    public enum State: DecoderState, @unchecked Sendable {
        case transformer(KVCacheState)
        case recurrent(RecurrentDecoderState)

        public var rowCount: Int {
            switch self {
            case .transformer(let s): return s.rowCount
            case .recurrent(let s): return s.rowCount
            }
        }

        public func selecting(rows: [Int]) -> State {
            switch self {
            case .transformer(let s): return .transformer(s.selecting(rows: rows))
            case .recurrent(let s): return .recurrent(s.selecting(rows: rows))
            }
        }
    }

    /// Picks the stepper from the graph's decoder-path layers; throws
    /// `IncrementalDecodingError` for a graph neither can step (naming the
    /// first layer in the way), including one that mixes the two families.
    public init(model: GraphModel, names: EncoderDecoderNames = EncoderDecoderNames()) throws {
        let split = try EncoderDecoderSplit(model, names: names)
        switch split.family.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
        case [.transformer]: self = .transformer(try EncoderDecoderStepper(model: model, names: names))
        case [.recurrent]: self = .recurrent(try RecurrentStepper(model: model, names: names))
        case []:
            throw IncrementalDecodingError(
                "incremental decoding: the target path has no decoder layer (transformer_decoder_layer, or gru/lstm/rnn and additive_attention)")
        default:
            throw IncrementalDecodingError(
                "incremental decoding: the target path mixes transformer decoder layers with recurrent layers or additive attention")
        }
    }

    public var model: GraphModel {
        switch self {
        case .transformer(let d): return d.model
        case .recurrent(let d): return d.model
        }
    }

    /// Rows of the source embedding (nil when the source is not embedded here).
    public var sourceVocabularySize: Int? {
        switch self {
        case .transformer(let d): return d.sourceVocabularySize
        case .recurrent(let d): return d.sourceEmbeddings.first?.vocabSize
        }
    }

    public var vocabularySize: Int {
        switch self {
        case .transformer(let d): return d.vocabularySize
        case .recurrent(let d): return d.vocabularySize
        }
    }

    public func start(_ sources: [[Int]]) throws -> State {
        switch self {
        case .transformer(let d): return .transformer(try d.start(sources))
        case .recurrent(let d): return .recurrent(try d.start(sources))
        }
    }

    public func step(_ state: State, keeping rows: [Int], lastTokens: [Int]) throws -> (logProbabilities: Tensor, state: State) {
        switch (self, state) {
        case (.transformer(let d), .transformer(let s)):
            let (lp, next) = try d.step(s, keeping: rows, lastTokens: lastTokens)
            return (lp, .transformer(next))
        case (.recurrent(let d), .recurrent(let s)):
            let (lp, next) = try d.step(s, keeping: rows, lastTokens: lastTokens)
            return (lp, .recurrent(next))
        default:
            preconditionFailure("GraphDecoder.step: a state of another decoder family")
        }
    }
}

/// The incremental decoder for an encoder-decoder model.json: see `GraphDecoder`.
public func makeIncrementalDecoder(model: GraphModel, names: EncoderDecoderNames = EncoderDecoderNames()) throws -> GraphDecoder {
    try GraphDecoder(model: model, names: names)
}
