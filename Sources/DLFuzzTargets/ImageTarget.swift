import DLVision
import Foundation

/// The image path of classify, detect, verify and embed: format sniffing, the
/// libpng / libjpeg-turbo decoders through the C shims (setjmp error
/// handling, pixel limits), colour conversion, resizing and letterboxing.
enum ImageTarget {
    static let decoder = ImageDecoder(maxPixels: 1 << 22)
    static let grey = try! ImagePreprocessing(channels: 1, height: 28, width: 28)
    static let colour = try! ImagePreprocessing(channels: 3, height: 32, width: 32, resize: .bilinear, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2])
    static let letterbox = Letterbox(width: 96, height: 96, allowUpscale: true)

    static let image = FuzzTarget("image", "PNG and JPEG decoding, preprocessing and letterboxing") { bytes in
        guard let image = try? decoder.decode(bytes) else { return false }
        _ = grey.tensor(from: image)
        _ = colour.tensor(from: image)
        _ = letterbox.apply(image)
        return true
    }
}
