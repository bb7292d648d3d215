import CZlib
import Foundation

/// Gzip decompression with zlib's `inflate` (windowBits 15 + 16: gzip
/// header and CRC-32 trailer, checked by zlib). Concatenated members are
/// decompressed in turn, as `gunzip` does. A truncated or corrupt stream is a
/// thrown error.
public enum Gzip {
    /// True when `bytes` starts with the gzip magic number 1f 8b.
    public static func isGzip(_ bytes: Data) -> Bool {
        bytes.count >= 2 && bytes[bytes.startIndex] == 0x1f && bytes[bytes.startIndex + 1] == 0x8b
    }

    /// Decompresses a gzip stream; `maxBytes` bounds the output (a defence
    /// against decompression bombs in uploaded datasets). With `prefix`, stops
    /// once that many bytes are out (to read a header) and returns them.
    public static func decompress(_ input: Data, maxBytes: Int = 1 << 31, prefix: Int? = nil, what: String = "gzip data") throws -> [UInt8] {
        guard isGzip(input) else { throw TrainingError.dataset("\(what): not a gzip stream (bad magic number)") }
        var out = [UInt8]()
        // ISIZE (the last 4 bytes) is the size mod 2^32 of the last member: a hint only.
        if input.count >= 18 {
            let tail = input.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
            out.reserveCapacity(min(tail, maxBytes, prefix ?? Int.max))
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TrainingError.dataset("\(what): zlib could not initialize")
        }
        defer { inflateEnd(&stream) }
        let chunk = min(1 << 20, max(prefix ?? Int.max, 64))
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.bindMemory(to: UInt8.self).baseAddress!
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = UInt32(raw.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { b in
                    stream.next_out = b.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                out.append(contentsOf: buffer[0..<produced])
                if let prefix, out.count >= prefix { out.removeLast(out.count - prefix); return }
                guard out.count <= maxBytes else {
                    throw TrainingError.dataset("\(what): decompresses to more than \(maxBytes) bytes")
                }
                switch status {
                case Z_OK:
                    if stream.avail_in == 0 && produced < chunk {
                        throw TrainingError.dataset("\(what): truncated gzip stream")
                    }
                case Z_STREAM_END:
                    // Another member may follow (skip zero padding, as gzip does).
                    var rest = Int(stream.avail_in)
                    while rest > 0 && stream.next_in.pointee == 0 { stream.next_in += 1; rest -= 1 }
                    stream.avail_in = UInt32(rest)
                    if rest == 0 { return }
                    guard inflateReset(&stream) == Z_OK else {
                        throw TrainingError.dataset("\(what): zlib could not reset")
                    }
                case Z_BUF_ERROR:
                    throw TrainingError.dataset("\(what): truncated gzip stream")
                default:
                    let msg = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw TrainingError.dataset("\(what): corrupt gzip stream (\(msg))")
                }
            }
        }
        return out
    }
}
