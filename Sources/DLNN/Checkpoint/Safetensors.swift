import DLTensor
import Foundation

/// The tensors and metadata of one safetensors file, converted to Float32.
public struct SafetensorsFile {
    /// Every tensor by name.
    public var tensors: [String: Tensor]
    /// The element type each tensor had in the file.
    public var dtypes: [String: SafetensorsDType]
    /// The free-form `__metadata__` strings (empty when absent).
    public var metadata: [String: String]

    /// Tensor names in byte order.
    public var names: [String] { tensors.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
}

/// The safetensors format (huggingface/safetensors, "Format" in its README):
///
///     [8 bytes: N, u64 little-endian][N bytes: UTF-8 JSON header][data buffer]
///
/// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
/// offsets relative to the start of the data buffer, plus an optional
/// "__metadata__" object of strings. Data is little-endian and row-major. The
/// tensors must cover the data buffer exactly: no overlaps, no holes, nothing after.
///
/// Reading validates all of it and throws `ModelError.checkpoint` naming the
/// problem and the tensor; it never reads outside the file. Writing produces the
/// same bytes as the reference implementation for Float32 tensors: sorted by name,
/// no metadata key when the metadata is empty, header padded with spaces to a
/// multiple of 8 bytes.
public enum Safetensors {
    /// The reference implementation's limit on the header length.
    public static let maxHeaderLength = 100_000_000

    // MARK: Reading

    /// Reads and validates a file. Errors name the file. The file is read into
    /// memory, not mapped: a mapped file truncated by another process (`cp` over
    /// it) would crash the reader with SIGBUS.
    public static func read(contentsOf url: URL) throws -> SafetensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try decode(data)
        } catch ModelError.checkpoint(let m) {
            throw ModelError.checkpoint("\(url.path): \(m)")
        }
    }

    /// Parses and validates the bytes of a safetensors file.
    public static func decode(_ data: Data) throws -> SafetensorsFile {
        try data.withUnsafeBytes { try decode(bytes: $0) }
    }

    static func decode(bytes: UnsafeRawBufferPointer) throws -> SafetensorsFile {
        guard bytes.count >= 8 else {
            throw ModelError.checkpoint("file is \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(maxHeaderLength) else {
            throw ModelError.checkpoint("header length \(n) is absurd (limit \(maxHeaderLength) bytes)")
        }
        let headerLength = Int(n)
        guard headerLength <= bytes.count - 8 else {
            throw ModelError.checkpoint(
                "header length \(headerLength) is larger than the rest of the file (\(bytes.count - 8) bytes): the file is truncated")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        let buffer = UnsafeRawBufferPointer(rebasing: bytes[(8 + headerLength)...])
        let entries: [Entry]
        let metadata: [String: String]
        (entries, metadata) = try parseHeader(headerBytes, bufferLength: buffer.count)
        try checkCoverage(entries, bufferLength: buffer.count)

        var tensors: [String: Tensor] = [:]
        var dtypes: [String: SafetensorsDType] = [:]
        for e in entries {
            let values = e.dtype.convertToFloat(buffer, offset: e.begin, count: e.count)
            tensors[e.name] = Tensor(shape: e.shape, data: values)
            dtypes[e.name] = e.dtype
        }
        return SafetensorsFile(tensors: tensors, dtypes: dtypes, metadata: metadata)
    }

    /// One validated header entry.
    struct Entry {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int
    }

    static func parseHeader(_ header: UnsafeRawBufferPointer, bufferLength: Int) throws -> ([Entry], [String: String]) {
        guard String(validating: header, as: UTF8.self) != nil else {
            throw ModelError.checkpoint("header is not valid UTF-8")
        }
        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(header)
        } catch let e as HeaderJSON.SyntaxError {
            throw ModelError.checkpoint("header is not valid JSON: \(e.message) at byte \(e.offset) of the header")
        }
        guard case .object(let members) = json else {
            throw ModelError.checkpoint("header is not a JSON object (got \(json.kind))")
        }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let m) = value else {
                    throw ModelError.checkpoint("'__metadata__' must be an object of strings, got \(value.kind)")
                }
                for (k, v) in m {
                    guard case .string(let s) = v else {
                        throw ModelError.checkpoint("'__metadata__' value for '\(k)' must be a string, got \(v.kind)")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name, value, bufferLength: bufferLength))
        }
        return (entries, metadata)
    }

    static func parseEntry(_ name: String, _ value: HeaderJSON, bufferLength: Int) throws -> Entry {
        func fail(_ m: String) -> ModelError { .checkpoint("tensor '\(name)': \(m)") }
        guard case .object(let fields) = value else { throw fail("entry must be an object, got \(value.kind)") }
        func field(_ key: String) throws -> HeaderJSON {
            guard let v = fields.first(where: { $0.key == key })?.value else { throw fail("missing '\(key)'") }
            return v
        }

        guard case .string(let dtypeName) = try field("dtype") else {
            throw fail("'dtype' must be a string, got \(try field("dtype").kind)")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw fail("unknown dtype '\(dtypeName)'") }
        guard dtype.isReadable else {
            let readable = SafetensorsDType.allCases.filter(\.isReadable).map(\.rawValue).joined(separator: ", ")
            throw fail("dtype \(dtypeName) is not supported (dlserve reads \(readable))")
        }

        guard case .array(let dims) = try field("shape") else {
            throw fail("'shape' must be a list of non-negative integers, got \(try field("shape").kind)")
        }
        var shape: [Int] = []
        var count = 1
        for (axis, d) in dims.enumerated() {
            guard let u = d.unsignedInteger else {
                throw fail("'shape' must be a list of non-negative integers; dimension \(axis) is \(d.kind)")
            }
            guard u <= UInt64(Int.max), case let (c, false) = count.multipliedReportingOverflow(by: Int(u)) else {
                throw fail("shape is too large")
            }
            shape.append(Int(u))
            count = c
        }
        guard case let (byteCount, false) = count.multipliedReportingOverflow(by: dtype.size) else {
            throw fail("shape is too large")
        }

        let offsetsValue = try field("data_offsets")
        guard case .array(let offs) = offsetsValue, offs.count == 2,
              let b = offs[0].unsignedInteger, let e = offs[1].unsignedInteger
        else {
            throw fail("'data_offsets' must be a list of two non-negative integers, got \(describe(offsetsValue))")
        }
        guard b <= e else { throw fail("data_offsets [\(b), \(e)] are reversed (begin after end)") }
        guard e <= UInt64(bufferLength) else {
            throw fail("data_offsets [\(b), \(e)] run past the end of the \(bufferLength)-byte data buffer (the file is truncated or the offsets are wrong)")
        }
        let begin = Int(b), end = Int(e)
        guard end - begin == byteCount else {
            throw fail("shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// The entries, in buffer order, must tile [0, bufferLength) exactly.
    static func checkCoverage(_ entries: [Entry], bufferLength: Int) throws {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: Entry?
        for e in sorted {
            if e.begin < position, let p = previous {
                throw ModelError.checkpoint(
                    "tensors '\(p.name)' and '\(e.name)' overlap: '\(p.name)' is bytes [\(p.begin), \(p.end)), '\(e.name)' starts at \(e.begin)")
            }
            if e.begin > position {
                throw ModelError.checkpoint(
                    "bytes [\(position), \(e.begin)) of the data buffer belong to no tensor (a hole before '\(e.name)')")
            }
            position = e.end
            previous = e
        }
        if position < bufferLength {
            throw ModelError.checkpoint(
                "\(bufferLength - position) trailing bytes after the last tensor: the data buffer is \(bufferLength) bytes but the tensors cover \(position)")
        }
    }

    static func describe(_ v: HeaderJSON) -> String {
        if case .array(let a) = v { return "[" + a.map { if case .number(let s) = $0 { return s }; return $0.kind }.joined(separator: ", ") + "]" }
        return v.kind
    }
}
