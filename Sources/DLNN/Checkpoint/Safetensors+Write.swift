import DLTensor
import Foundation

extension Safetensors {
    /// Serializes Float32 tensors. The bytes match the reference implementation's
    /// `save` for the same tensors and metadata: tensors sorted by name (bytewise),
    /// the "__metadata__" key first when there is metadata (its keys sorted here,
    /// where the reference's order is a hash map's), compact JSON, header padded
    /// with spaces to a multiple of 8 bytes so the data buffer is aligned.
    ///
    /// Throws `ModelError.checkpoint` for a duplicate or reserved name.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var seen: Set<String> = []
        for (name, _) in tensors {
            guard name != "__metadata__" else { throw ModelError.checkpoint("'__metadata__' is reserved and cannot name a tensor") }
            guard seen.insert(name).inserted else { throw ModelError.checkpoint("tensor '\(name)' appears twice") }
        }
        let sorted = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }

        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            parts.append("\"__metadata__\":{" + keys.map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, t) in sorted {
            let bytes = t.count * 4
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var out = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, t) in sorted {
            #if _endian(little)
            t.data.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            #endif
        }
        return out
    }

    /// Writes a file atomically (see `AtomicFile.write`).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: url)
    }

    /// A JSON string literal escaped as serde_json does: quote, backslash and
    /// control characters escaped (short forms where JSON has them), the rest raw UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
