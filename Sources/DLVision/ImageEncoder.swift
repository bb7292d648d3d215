import CImageCodecs
import Foundation

/// Encodes images as PNG with libpng (through the CImageCodecs shim).
public enum ImageEncoder {
    /// The PNG bytes of `image` (gray or RGB, 8 bits), zlib `level` 0...9.
    public static func png(_ image: Image, level: Int = 6) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let code = image.pixels.withUnsafeBufferPointer { p in
            dls_png_encode(p.baseAddress, UInt32(image.width), UInt32(image.height), UInt32(image.channels), Int32(level),
                           &out, &size, &message, message.count)
        }
        defer { free(out) }
        guard code == DLS_OK, let out else {
            throw ImageError.corrupt(format: .png, message: "encoding failed: " + String(cString: message))
        }
        return Data(bytes: out, count: size)
    }
}
