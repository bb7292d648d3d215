/// A decoded 8-bit image: `height` rows of `width` pixels, `channels`
/// interleaved samples per pixel (1 = gray, 3 = RGB), row-major (HWC).
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// `height * width * channels` samples, row-major, channels interleaved.
    public let pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "Image: size \(width)x\(height) must be positive")
        precondition(channels == 1 || channels == 3, "Image: \(channels) channels (expected 1 or 3)")
        precondition(pixels.count == width * height * channels,
                     "Image: \(width)x\(height)x\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image from client-supplied values (for example a JSON pixel array):
    /// every value must be an integer-valued number in 0...255. Throws
    /// `ImageError.invalidPixels` otherwise, never traps.
    public init(width: Int, height: Int, channels: Int, values: [Double]) throws {
        guard width > 0, height > 0 else { throw ImageError.invalidPixels("size \(width)x\(height) must be positive") }
        guard channels == 1 || channels == 3 else {
            throw ImageError.invalidPixels("\(channels) channels (expected 1 or 3)")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count.multipliedReportingOverflow(by: channels).partialValue == values.count else {
            throw ImageError.invalidPixels("\(width)x\(height)x\(channels) needs \(width * height * channels) values, got \(values.count)")
        }
        var pixels = [UInt8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            guard v >= 0, v <= 255, v == v.rounded() else {
                throw ImageError.invalidPixels("value \(v) at index \(i) is not an integer in 0...255")
            }
            pixels[i] = UInt8(v)
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// The sample at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> UInt8 {
        pixels[(y * width + x) * channels + c]
    }

    /// Gray with Pillow's `convert("L")` weights (ITU-R 601-2 luma, fixed
    /// point: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16), or self.
    public func grayscale() -> Image {
        guard channels == 3 else { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeBufferPointer { p in
            for i in 0..<out.count {
                let r = UInt32(p[3 * i]), g = UInt32(p[3 * i + 1]), b = UInt32(p[3 * i + 2])
                out[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }

    /// RGB by replicating gray, or self.
    public func rgb() -> Image {
        guard channels == 1 else { return self }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<pixels.count {
            let v = pixels[i]
            out[3 * i] = v
            out[3 * i + 1] = v
            out[3 * i + 2] = v
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }
}
