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

extension ServingEngine {
    /// An image input as decoded pixels, for tasks that place the image
    /// themselves (detection letterboxes it): files are decoded with the
    /// daemon's limits, pixel arrays must be whole numbers in 0...255.
    func image(for input: ImageInput) throws -> Image {
        do {
            switch input {
            case .encoded(let data, let mediaType): return try decoder.decode(data, mediaType: mediaType)
            case .image(let image): return image
            case .pixels(let values, let shape):
                let (c, h, w) = try ImagePreprocessing.pixelShape(shape, count: values.count, maxPixels: options.maxImagePixels)
                // [C, H, W] planes -> interleaved HWC.
                var hwc = [Double](repeating: 0, count: values.count)
                for ch in 0..<c { for i in 0..<(h * w) { hwc[i * c + ch] = Double(values[ch * h * w + i]) } }
                return try Image(width: w, height: h, channels: c, values: hwc)
            case .tensor:
                throw ServingError.invalidInput("this task takes an image (PNG, JPEG, base64 or pixels), not a tensor")
            }
        } catch let e as ImageError {
            throw ServingError(e)
        }
    }
}
