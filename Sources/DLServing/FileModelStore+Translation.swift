import DLNN
import DLTensor
import DLText
import Foundation

extension FileModelStore {
    /// A translation version's subwords and step decoder, checked against
    /// the model: the source vocabulary fits the source embedding, the target
    /// vocabulary the output, and the graph decodes step by step.
    static func translationResources(_ loaded: LoadedModel) throws -> VersionResources {
        func bad(_ m: String) -> RepositoryError {
            .badConfig(model: loaded.config.name, message: "version \(loaded.version): \(m)")
        }
        let subwords: TranslationSubwords
        do { subwords = try TranslationSubwords.load(from: loaded.directory) } catch { throw bad("subwords: \(error)") }
        let decoder: GraphDecoder
        do { decoder = try GraphDecoder(model: loaded.model) } catch { throw bad("\(error)") }
        // A served decoder batches requests of different lengths in one state:
        // a recurrent decoder's positional encoding could not follow each row.
        if case .recurrent(let stepper) = decoder, stepper.hasPositionalEncoding {
            throw bad("a recurrent decoder with positional_encoding on its target path cannot be served (batched rows have different positions)")
        }
        if decoder.vocabularySize != subwords.target.model.count {
            throw bad("the target vocabulary has \(subwords.target.model.count) subwords, the output \(decoder.vocabularySize)")
        }
        if let rows = decoder.sourceVocabularySize, rows != subwords.source.model.count {
            throw bad("the source vocabulary has \(subwords.source.model.count) subwords, the source embedding \(rows) rows")
        }
        return VersionResources(maxLength: loaded.config.input.text?.maxLength, subwords: subwords, decoder: decoder)
    }

    /// The version as the scheduler sees it (see `StepDecodedModel`), with
    /// source ids checked before they are queued.
    static func stepDecoded(_ loaded: LoadedModel, resources: VersionResources, config: ServingConfig,
                            info: [String: String]) -> ServableVersion {
        let decoder = resources.decoder!
        let vocabulary = decoder.sourceVocabularySize ?? decoder.vocabularySize
        return ServableVersion(model: StepDecodedModel(decoder: decoder), config: config, info: info, resources: resources) { x in
            x.data.allSatisfy { $0 >= 0 && $0 < Float(vocabulary) && $0 == $0.rounded() }
                ? nil : "source token ids must be whole numbers in 0..<\(vocabulary)"
        }
    }
}

/// An encoder-decoder model in the routing table. Its task decodes it step
/// by step (`/translate`); a plain batch (the load's warm-up, V2 `infer`)
/// is source ids [N, S] and gets the log-probabilities of the first target
/// token after `<bos>`, [N, 1, V]: one encoder pass and one decoder step.
final class StepDecodedModel: InferenceModel, @unchecked Sendable {
    let decoder: GraphDecoder
    init(decoder: GraphDecoder) { self.decoder = decoder }
    var inputShape: [Int] { [-1] }
    var outputShape: [Int] { [-1, decoder.vocabularySize] }

    func infer(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2 else { throw ServingError.invalidInput("source ids must be [N, S], got \(x.shape)") }
        let (n, s) = (x.shape[0], x.shape[1])
        let sources = (0..<n).map { i in (0..<s).map { Int(x.data[i * s + $0]) } }
        do {
            let state = try decoder.start(sources)
            let bos = Array(repeating: BPEModel.beginningID, count: n)
            let (logProbabilities, _) = try decoder.step(state, keeping: Array(0..<n), lastTokens: bos)
            return logProbabilities.reshaped([n, 1, decoder.vocabularySize])
        } catch let e as IncrementalDecodingError {
            throw ServingError.invalidInput(e.message)
        }
    }
}
