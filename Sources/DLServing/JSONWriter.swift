/// A response that writes its own JSON: what Foundation's `JSONEncoder`
/// (default options) writes for its `Encodable` form, every string and
/// number spelled the same, keys in declaration order (`JSONEncoder`'s
/// follow a dictionary's hash order and change from run to run), at a
/// fraction of the cost: no boxing into containers, no metadata lookups.
/// The HTTP layer uses it for the hot task responses (classify, ...);
/// `JSONWriterTests` hold each conforming type to `JSONEncoder`'s output.
public protocol JSONWritable {
    func writeJSON(to json: inout JSONWriter)
}

/// Appends JSON to a byte array: objects and arrays with the commas placed
/// for the caller, strings escaped and numbers formatted as `JSONEncoder`
/// does (`/` escaped as `\/`, floats by their shortest `description` with a
/// trailing ".0" dropped, keys in the order written).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public static func encode(_ value: some JSONWritable) -> [UInt8] {
        var w = JSONWriter()
        value.writeJSON(to: &w)
        return w.bytes
    }

    @inline(__always)
    private mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        comma()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object key that comes from data (labels), escaped like a string.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// An object key (ASCII without characters that need escaping).
    public mutating func key(_ name: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "/") {
                if start < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                escape(c)
                start = i + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    private mutating func escape(_ c: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(c)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        default:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(c >> 4)], hex[Int(c & 15)]])
        }
    }

    public mutating func int(_ v: Int) {
        comma()
        if v >= 0 && v < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(v))
        } else {
            bytes.append(contentsOf: String(v).utf8)
        }
        needsComma = true
    }

    /// A finite float as `JSONEncoder` writes it; NaN and infinities (which
    /// `JSONEncoder` refuses) are written as null.
    public mutating func float(_ v: Float) {
        guard v.isFinite else { return null() }
        number(v.description)
    }

    public mutating func double(_ v: Double) {
        guard v.isFinite else { return null() }
        number(v.description)
    }

    private mutating func number(_ text: String) {
        comma()
        var text = text
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    public mutating func bool(_ v: Bool) {
        comma()
        bytes.append(contentsOf: v ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    public mutating func null() {
        comma()
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        needsComma = true
    }

    /// An optional string: the key and value when present, nothing when nil
    /// (as `JSONEncoder` leaves out nil optionals of synthesized `Encodable`).
    public mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }
}
