/// Everything a client's image can do wrong. Never a crash: the serving layer
/// maps these to 4xx answers (`unsupportedFormat` to 415, `tooLarge` to 413,
/// the others to 400).
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are neither PNG nor JPEG, or the declared media type is not an image type we decode.
    case unsupportedFormat(String)
    /// The declared size exceeds the decoder's limit (a decompression bomb or simply too big);
    /// refused before any pixel memory is allocated.
    case tooLarge(width: Int, height: Int, maxPixels: Int)
    /// A malformed or truncated file.
    case corrupt(format: ImageFormat, message: String)
    /// A valid file using a feature we do not decode.
    case unsupportedFeature(format: ImageFormat, message: String)
    /// A pixel array from a client that does not describe an image.
    case invalidPixels(String)
    /// No bytes at all.
    case empty

    public var description: String {
        switch self {
        case .unsupportedFormat(let m): return "unsupported image format: \(m)"
        case .tooLarge(let w, let h, let max):
            return "image of \(w)x\(h) = \(w * h) pixels exceeds the limit of \(max) pixels"
        case .corrupt(let f, let m): return "corrupt \(f.rawValue.uppercased()) image: \(m)"
        case .unsupportedFeature(let f, let m): return "unsupported \(f.rawValue.uppercased()) image: \(m)"
        case .invalidPixels(let m): return "invalid pixel array: \(m)"
        case .empty: return "empty image data"
        }
    }
}
