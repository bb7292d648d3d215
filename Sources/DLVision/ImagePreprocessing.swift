import DLTensor

/// Turns a decoded image into a model's input, in this order:
/// 1. color: to gray (Pillow's `convert("L")` luma) or RGB (gray replicated),
///    as the model's channel count asks;
/// 2. resize to height x width (`ResizeMethod`, area for shrinking by default);
/// 3. optional inversion, v -> 255 - v (for models trained on white-on-black
///    images such as Fashion-MNIST, when photos are black-on-white);
/// 4. scale (1/255 maps 0...255 to 0...1);
/// 5. per-channel normalization, (v - mean[c]) / std[c].
///
/// Output: Tensor [1, channels, height, width] (NCHW).
public struct ImagePreprocessing: Sendable, Equatable {
    /// 1 (grayscale) or 3 (RGB).
    public var channels: Int
    public var height: Int
    public var width: Int
    public var resize: ResizeMethod
    public var scale: Float
    /// One value, or one per channel.
    public var mean: [Float]
    /// One value, or one per channel; each > 0.
    public var std: [Float]
    public var invert: Bool

    /// Throws `PreprocessingError` for a configuration that cannot work
    /// (it comes from a model's config file, not from the programmer).
    public init(channels: Int, height: Int, width: Int, resize: ResizeMethod = .auto, scale: Float = 1.0 / 255,
                mean: [Float] = [0], std: [Float] = [1], invert: Bool = false) throws {
        guard channels == 1 || channels == 3 else {
            throw PreprocessingError("an image model needs 1 or 3 input channels, not \(channels)")
        }
        guard height > 0, width > 0, height * width <= 1 << 26 else {
            throw PreprocessingError("input size \(height)x\(width) is not a usable image size")
        }
        guard mean.count == 1 || mean.count == channels else {
            throw PreprocessingError("mean has \(mean.count) values for \(channels) channels")
        }
        guard std.count == 1 || std.count == channels, std.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw PreprocessingError("std \(std) must have 1 or \(channels) positive values")
        }
        guard scale.isFinite, scale != 0, mean.allSatisfy(\.isFinite) else {
            throw PreprocessingError("scale \(scale) and mean \(mean) must be finite (scale non-zero)")
        }
        self.channels = channels
        self.height = height
        self.width = width
        self.resize = resize
        self.scale = scale
        self.mean = mean
        self.std = std
        self.invert = invert
    }

    /// The input shape without batch, [C, H, W].
    public var inputShape: [Int] { [channels, height, width] }

    /// image -> Tensor [1, C, H, W].
    public func tensor(from image: Image) -> Tensor {
        let converted = channels == 1 ? image.grayscale() : image.rgb()
        return finish(converted.pixels.map { Float($0) }, width: converted.width, height: converted.height)
    }

    /// Raw pixel values from a client (a JSON pixel array) -> Tensor [1, C, H, W].
    /// `shape` is [H, W] (gray) or [C, H, W] with C = 1 or 3, values row-major
    /// in that order, each in 0...255 (non-integers allowed). Color conversion
    /// uses the float luma weights 0.299, 0.587, 0.114. Throws
    /// `ImageError.invalidPixels` or `.tooLarge` (never traps).
    public func tensor(fromPixels values: [Float], shape: [Int], maxPixels: Int = 4096 * 4096) throws -> Tensor {
        let (c, h, w) = try Self.pixelShape(shape, count: values.count, maxPixels: maxPixels)
        if let i = values.firstIndex(where: { !($0 >= 0 && $0 <= 255) }) {
            throw ImageError.invalidPixels("value \(values[i]) at index \(i) is not in 0...255")
        }
        let plane = h * w
        var hwc = [Float](repeating: 0, count: plane * channels)
        for i in 0..<plane {
            if c == channels {
                for k in 0..<c { hwc[i * c + k] = values[k * plane + i] }
            } else if channels == 1 {
                hwc[i] = 0.299 * values[i] + 0.587 * values[plane + i] + 0.114 * values[2 * plane + i]
            } else {
                for k in 0..<3 { hwc[i * 3 + k] = values[i] }
            }
        }
        return finish(hwc, width: w, height: h)
    }

    /// A client pixel array's (channels, height, width) from its `shape`
    /// ([H, W] or [C, H, W], C = 1 or 3), checked against the number of
    /// values and `maxPixels`; throws `ImageError.invalidPixels` or `.tooLarge`.
    public static func pixelShape(_ shape: [Int], count: Int, maxPixels: Int) throws -> (channels: Int, height: Int, width: Int) {
        let (c, h, w): (Int, Int, Int)
        switch shape.count {
        case 2: (c, h, w) = (1, shape[0], shape[1])
        case 3: (c, h, w) = (shape[0], shape[1], shape[2])
        default: throw ImageError.invalidPixels("shape \(shape) must be [height, width] or [channels, height, width]")
        }
        guard c == 1 || c == 3 else { throw ImageError.invalidPixels("\(c) channels (expected 1 or 3)") }
        guard h > 0, w > 0 else { throw ImageError.invalidPixels("size \(h)x\(w) must be positive") }
        guard h <= maxPixels / w else { throw ImageError.tooLarge(width: w, height: h, maxPixels: maxPixels) }
        guard count == c * h * w else {
            throw ImageError.invalidPixels("shape \(shape) needs \(c * h * w) values, got \(count)")
        }
        return (c, h, w)
    }

    /// Interleaved float pixels with `channels` channels -> resized, inverted,
    /// scaled, normalized [1, C, H, W].
    func finish(_ src: [Float], width srcW: Int, height srcH: Int) -> Tensor {
        let resized = Resampler.resize(src, width: srcW, height: srcH, channels: channels,
                                       toWidth: width, toHeight: height, method: resize)
        // HWC -> CHW with inversion, scaling and normalization fused.
        var out = [Float](repeating: 0, count: channels * height * width)
        let plane = height * width
        for c in 0..<channels {
            let m = mean.count == 1 ? mean[0] : mean[c]
            let s = std.count == 1 ? std[0] : std[c]
            for i in 0..<plane {
                var v = resized[i * channels + c]
                if invert { v = 255 - v }
                out[c * plane + i] = (v * scale - m) / s
            }
        }
        return Tensor(shape: [1, channels, height, width], data: out)
    }
}

/// A preprocessing configuration that cannot work (bad channel count, std <= 0, ...).
public struct PreprocessingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "invalid preprocessing: \(message)" }
}
