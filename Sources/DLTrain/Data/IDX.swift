import Foundation

/// An IDX file (the MNIST format, http://yann.lecun.com/exdb/mnist/): magic
/// number 0x00 0x00 TYPE NDIMS, then NDIMS big-endian UInt32 dimensions, then
/// the values row-major. Only unsigned bytes (TYPE 0x08) are supported, which
/// is what image and label files use.
///
/// Reading validates everything: the magic number, the type, the number of
/// dimensions (1...4), every dimension (> 0) and that the data has exactly
/// prod(dims) bytes. A truncated or malformed file is a thrown error naming the
/// file, never a crash.
public struct IDXFile: Equatable, Sendable {
    public var dims: [Int]
    public var bytes: [UInt8]

    public init(dims: [Int], bytes: [UInt8]) {
        precondition(dims.reduce(1, *) == bytes.count, "IDXFile: dims \(dims) need \(dims.reduce(1, *)) bytes, got \(bytes.count)")
        self.dims = dims
        self.bytes = bytes
    }

    /// Reads a file, gzip-compressed (detected by its magic number) or raw.
    public static func read(_ url: URL, maxBytes: Int = 1 << 31) throws -> IDXFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError.dataset("\(url.path): cannot read (\(error.localizedDescription))")
        }
        let raw = Gzip.isGzip(data) ? try Gzip.decompress(data, maxBytes: maxBytes, what: url.path) : [UInt8](data)
        return try parse(raw, what: url.path)
    }

    /// Reads only the header of a file: its dimensions (for validation without
    /// loading the data). Checks the magic number, the type and the dimensions;
    /// that the data is complete is checked only by `read`.
    public static func readDims(_ url: URL) throws -> [Int] {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw TrainingError.dataset("\(url.path): cannot read")
        }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 1 << 16)) ?? Data()
        let raw = Gzip.isGzip(head) ? try Gzip.decompress(head, prefix: 20, what: url.path) : [UInt8](head.prefix(20))
        guard raw.count >= 4, raw[0] == 0, raw[1] == 0, raw[2] == 0x08, (1...4).contains(Int(raw[3])),
              raw.count >= 4 + 4 * Int(raw[3]) else {
            throw TrainingError.dataset("\(url.path): not an IDX file of unsigned bytes")
        }
        return (0..<Int(raw[3])).map { d in
            let o = 4 + 4 * d
            return Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3])
        }
    }

    /// Parses the uncompressed bytes of an IDX file.
    public static func parse(_ raw: [UInt8], what: String = "IDX data") throws -> IDXFile {
        guard raw.count >= 4 else { throw TrainingError.dataset("\(what): \(raw.count) bytes is too short for an IDX header") }
        guard raw[0] == 0, raw[1] == 0 else {
            throw TrainingError.dataset("\(what): bad IDX magic number \(String(format: "%02x%02x", raw[0], raw[1])) (expected 0000)")
        }
        guard raw[2] == 0x08 else {
            throw TrainingError.dataset("\(what): IDX type 0x\(String(raw[2], radix: 16)) is not supported (only unsigned bytes, 0x08)")
        }
        let ndims = Int(raw[3])
        guard (1...4).contains(ndims) else { throw TrainingError.dataset("\(what): \(ndims) dimensions (expected 1 to 4)") }
        let header = 4 + 4 * ndims
        guard raw.count >= header else { throw TrainingError.dataset("\(what): truncated header (\(raw.count) bytes)") }
        var dims: [Int] = []
        var total = 1
        for d in 0..<ndims {
            let o = 4 + 4 * d
            let v = Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3])
            guard v > 0 else { throw TrainingError.dataset("\(what): dimension \(d) is 0") }
            dims.append(v)
            total = total.multipliedReportingOverflow(by: v).overflow ? Int.max : total * v
        }
        let have = raw.count - header
        guard have == total else {
            let why = have < total ? "truncated" : "has trailing bytes"
            throw TrainingError.dataset("\(what): \(why): dims \(dims) need \(total) bytes of data, found \(have)")
        }
        return IDXFile(dims: dims, bytes: Array(raw[header...]))
    }

    /// The file's bytes with its header, uncompressed (for tests and exports).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return out + bytes
    }
}
