import DLNN
import DLServing
import DLTensor
import DLVision
import Foundation

/// A gallery's own copy of one version of an embedding model, read from the
/// repository: the gallery embeds enrollment photos and identify queries
/// with the version its templates were made by, whatever the daemon serves
/// meanwhile (a new version is re-embedded into before it answers).
final class GalleryModel: @unchecked Sendable {
    let name: String
    let version: Int
    let verification: VerificationFile
    private let plan: InferencePlan
    private let preprocessing: ImagePreprocessing
    private let decoder: ImageDecoder
    private let lock = NSLock()

    init(repository: ModelRepository, name: String, version: Int, decoder: ImageDecoder) throws {
        let loaded: LoadedModel
        do {
            loaded = try repository.load(name, version: version)
        } catch {
            throw ServingError.unavailable("face gallery: cannot load model '\(name)' version \(version): \(error)")
        }
        guard loaded.config.task == .embedding else {
            throw ServingError.unsupportedTask(model: name, task: loaded.config.task.rawValue, operation: "identities")
        }
        do {
            verification = try FileModelStore.verificationFile(loaded)
            guard let p = try ServingConfig(loaded.config).preprocessing else { throw ServingError.internal("no image preprocessing") }
            preprocessing = p
        } catch let e as ServingError { throw e } catch {
            throw ServingError.unavailable("face gallery: model '\(name)' version \(version): \(error)")
        }
        (self.name, self.version, self.decoder) = (name, version, decoder)
        plan = InferencePlan(loaded.model)
    }

    /// Decodes and embeds photos (PNG or JPEG bytes); a bad photo is a 4xx naming it.
    func embed(_ photos: [(Data, String?)]) throws -> [[Float]] {
        let tensors = try photos.enumerated().map { i, p -> Tensor in
            do { return preprocessing.tensor(from: try decoder.decode(p.0, mediaType: p.1)) } catch let e as ImageError {
                let mapped = ServingError(e)
                if case .invalidInput(let m) = mapped { throw ServingError.invalidInput("photo \(i + 1): \(m)") }
                throw mapped
            }
        }
        guard !tensors.isEmpty else { return [] }
        return verification.embed(Tensor.concat(tensors, axis: 0)) { x in lock.withLock { plan.run(x) } }
    }
}
