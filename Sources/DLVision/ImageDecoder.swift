import CImageCodecs
import Foundation

/// The encodings we decode.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png, jpeg

    /// The format of a media type ("image/png", "image/jpeg", "image/jpg",
    /// parameters ignored), or nil for any other type.
    public init?(mediaType: String) {
        switch mediaType {  // the usual spellings, without Foundation's trimming
        case "image/png": self = .png; return
        case "image/jpeg": self = .jpeg; return
        default: break
        }
        let base = mediaType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch base {
        case "image/png": self = .png
        case "image/jpeg", "image/jpg", "image/pjpeg": self = .jpeg
        default: return nil
        }
    }

    /// The format announced by the first bytes (PNG signature, JPEG SOI marker), or nil.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= 8, zip(bytes.prefix(8), png).allSatisfy({ $0 == $1 }) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    public var mediaType: String { self == .png ? "image/png" : "image/jpeg" }
}

/// Decodes PNG and JPEG with libpng and libjpeg-turbo (through the
/// CImageCodecs shim, which turns their longjmp errors into return codes).
///
/// The declared width and height are read first and checked against
/// `maxPixels` before any pixel memory is allocated, so a 100-byte file that
/// declares 100000x100000 pixels is refused in microseconds.
public struct ImageDecoder: Sendable {
    /// Largest accepted width * height.
    public var maxPixels: Int

    /// 4096 x 4096 by default (48 MiB of RGB), far above any model input.
    public init(maxPixels: Int = 4096 * 4096) {
        precondition(maxPixels > 0, "ImageDecoder: maxPixels must be positive")
        self.maxPixels = maxPixels
    }

    /// Decodes `data`. The format is taken from the bytes themselves; a
    /// `mediaType` other than PNG or JPEG is refused as `unsupportedFormat`,
    /// but a PNG/JPEG label that disagrees with the bytes is forgiven (the
    /// bytes win), since clients often mislabel uploads.
    public func decode(_ data: Data, mediaType: String? = nil) throws -> Image {
        try data.withUnsafeBytes { try decode($0, mediaType: mediaType) }
    }

    public func decode(_ bytes: [UInt8], mediaType: String? = nil) throws -> Image {
        try bytes.withUnsafeBytes { try decode($0, mediaType: mediaType) }
    }

    /// Reads only the header: format, size and channels.
    public func info(_ data: Data) throws -> (format: ImageFormat, width: Int, height: Int, channels: Int) {
        try data.withUnsafeBytes { raw in
            let format = try Self.format(of: raw, mediaType: nil)
            let info = try Self.header(raw, format)
            return (format, Int(info.width), Int(info.height), Int(info.channels))
        }
    }

    public func decode(_ raw: UnsafeRawBufferPointer, mediaType: String? = nil) throws -> Image {
        let format = try Self.format(of: raw, mediaType: mediaType)
        let info = try Self.header(raw, format)
        let width = Int(info.width), height = Int(info.height), channels = Int(info.channels)
        guard width > 0, height > 0 else {
            throw ImageError.corrupt(format: format, message: "declared size \(width)x\(height)")
        }
        guard width * height <= maxPixels else {
            throw ImageError.tooLarge(width: width, height: height, maxPixels: maxPixels)
        }
        let count = width * height * channels
        var message = [CChar](repeating: 0, count: 256)
        var code: Int32 = 0
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let base = raw.bindMemory(to: UInt8.self).baseAddress!
            code = message.withUnsafeMutableBufferPointer { m in
                switch format {
                case .png: return dls_png_decode(base, raw.count, buffer.baseAddress, count, m.baseAddress, m.count)
                case .jpeg: return dls_jpeg_decode(base, raw.count, buffer.baseAddress, count, m.baseAddress, m.count)
                }
            }
            // On failure the contents are partial; they are discarded below.
            initialized = count
        }
        try Self.check(code, format, message)
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func format(of raw: UnsafeRawBufferPointer, mediaType: String?) throws -> ImageFormat {
        if let mediaType, ImageFormat(mediaType: mediaType) == nil {
            throw ImageError.unsupportedFormat("media type '\(mediaType)' (expected image/png or image/jpeg)")
        }
        guard raw.count > 0 else { throw ImageError.empty }
        guard let format = ImageFormat.sniff(raw) else {
            throw ImageError.unsupportedFormat("the data is neither PNG nor JPEG")
        }
        return format
    }

    static func header(_ raw: UnsafeRawBufferPointer, _ format: ImageFormat) throws -> dls_image_info {
        var info = dls_image_info()
        var message = [CChar](repeating: 0, count: 256)
        let base = raw.bindMemory(to: UInt8.self).baseAddress!
        let code = message.withUnsafeMutableBufferPointer { m in
            switch format {
            case .png: return dls_png_info(base, raw.count, &info, m.baseAddress, m.count)
            case .jpeg: return dls_jpeg_info(base, raw.count, &info, m.baseAddress, m.count)
            }
        }
        try check(code, format, message)
        return info
    }

    static func check(_ code: Int32, _ format: ImageFormat, _ message: [CChar]) throws {
        guard code != Int32(DLS_OK) else { return }
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if code == Int32(DLS_ERR_UNSUPPORTED) { throw ImageError.unsupportedFeature(format: format, message: text) }
        throw ImageError.corrupt(format: format, message: text.isEmpty ? "decoder error \(code)" : text)
    }
}
