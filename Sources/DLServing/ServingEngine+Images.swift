import DLTensor
import DLVision
import Foundation

/// Image inputs: what classify, V2's "image" input and the image tasks send,
/// turned into a model input by the version's `preprocessing`.
extension ServingEngine {
    /// The model input for an image input (decoding happens here, on the caller's task).
    func tensor(for input: ImageInput, instance: ServedVersion) throws -> Tensor {
        switch input {
        case .tensor(let t):
            return t
        case .encoded(let data, let mediaType):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            do {
                return p.tensor(from: try decoder.decode(data, mediaType: mediaType))
            } catch let e as ImageError {
                throw ServingError(e)
            }
        case .image(let image):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            return p.tensor(from: image)
        case .pixels(let values, let shape):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            do {
                return try p.tensor(fromPixels: values, shape: shape, maxPixels: options.maxImagePixels)
            } catch let e as ImageError {
                throw ServingError(e)
            }
        }
    }
}
