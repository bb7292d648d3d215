import DLTensor
import Foundation
import XCTest

@testable import DLNN

/// Hand-built safetensors files.
enum CorruptFiles {
    /// [declared or actual header length][header bytes][buffer].
    static func file(_ header: String, buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        file(headerBytes: Array(header.utf8), buffer: buffer, declaredLength: declaredLength)
    }

    static func file(headerBytes: [UInt8], buffer: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        var d = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: headerBytes)
        d.append(contentsOf: buffer)
        return d
    }

    static func entry(_ name: String, _ dtype: String = "F32", _ shape: String, _ offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }
}

/// Every kind of malformed safetensors file is rejected with a message that
/// says what is wrong, and no mutation of a valid file crashes the reader.
final class CorruptCheckpointTests: XCTestCase {
    func assertRejected(_ data: Data, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Safetensors.decode(data), file: file, line: line) { e in
            guard case .checkpoint(let m)? = e as? ModelError else {
                return XCTFail("expected ModelError.checkpoint, got \(e)", file: file, line: line)
            }
            XCTAssertTrue(m.contains(expected), "message '\(m)' lacks '\(expected)'", file: file, line: line)
        }
    }

    let twelve = [UInt8](repeating: 0, count: 12)

    func valid() throws -> Data {
        try Safetensors.encode([("a", Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])), ("b", Tensor(scalar: 9))],
                               metadata: ["k": "v"])
    }

    func testShorterThanEightBytes() {
        for n in [0, 1, 7] {
            assertRejected(Data(repeating: 0, count: n), "file is \(n) bytes, too short for the 8-byte header length")
        }
    }

    func testTruncatedAtEveryPoint() throws {
        let data = try valid()
        let headerEnd = 8 + Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for cut in 0..<data.count {
            let expected: String
            if cut < 8 { expected = "too short for the 8-byte header length" }
            else if cut < headerEnd { expected = "is larger than the rest of the file (\(cut - 8) bytes): the file is truncated" }
            else { expected = "run past the end of the \(cut - headerEnd)-byte data buffer (the file is truncated" }
            assertRejected(data.prefix(cut), expected)
        }
    }

    func testHeaderLengthTooLargeOrAbsurd() throws {
        let data = try valid()
        var big = data
        big.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(data.count).littleEndian) { Data($0) })
        assertRejected(big, "header length \(data.count) is larger than the rest of the file (\(data.count - 8) bytes)")
        assertRejected(CorruptFiles.file("{}", declaredLength: 100_000_001), "header length 100000001 is absurd (limit 100000000 bytes)")
        assertRejected(CorruptFiles.file("{}", declaredLength: .max), "header length 18446744073709551615 is absurd")
    }

    func testHeaderNotUTF8() {
        assertRejected(CorruptFiles.file(headerBytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), "header is not valid UTF-8")
    }

    func testHeaderNotJSON() {
        assertRejected(CorruptFiles.file(#"{"a": "#), "header is not valid JSON: unexpected end of header at byte 6")
        assertRejected(CorruptFiles.file(#"{"a" 1}"#), "header is not valid JSON: expected ':' at byte 5")
        assertRejected(CorruptFiles.file("{} x"), "header is not valid JSON: unexpected text after the JSON value at byte 3")
        assertRejected(CorruptFiles.file(""), "header is not valid JSON: unexpected end of header at byte 0")
        assertRejected(CorruptFiles.file(String(repeating: "[", count: 100_000)), "nesting deeper than 32 levels")
        assertRejected(CorruptFiles.file(#"{"a":01}"#), "leading zero")
        assertRejected(CorruptFiles.file("{\"a\":\"x\u{01}\"}"), "control character in string")
        assertRejected(CorruptFiles.file(#"{"a":"\ud800"}"#), "unpaired surrogate")
        assertRejected(CorruptFiles.file(#"{"a":tru}"#), "invalid literal (expected 'true')")
    }

    func testDuplicateTensorName() {
        let e = CorruptFiles.entry("w", "F32", "[1]", "[0,4]")
        assertRejected(CorruptFiles.file("{\(e),\(e)}", buffer: [0, 0, 0, 0]), "duplicate key 'w' at byte \(2 + e.utf8.count) of the header")
    }

    func testHeaderNotAnObject() {
        assertRejected(CorruptFiles.file("[1, 2]"), "header is not a JSON object (got a list)")
        assertRejected(CorruptFiles.file("null  "), "header is not a JSON object (got null)")
    }

    func testBadMetadata() {
        assertRejected(CorruptFiles.file(#"{"__metadata__":[]}"#), "'__metadata__' must be an object of strings, got a list")
        assertRejected(CorruptFiles.file(#"{"__metadata__":{"a":1}}"#), "'__metadata__' value for 'a' must be a string, got the number 1")
    }

    func testMissingOrIllTypedFields() {
        assertRejected(CorruptFiles.file(#"{"w":3}"#), "tensor 'w': entry must be an object, got the number 3")
        assertRejected(CorruptFiles.file(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]), "tensor 'w': missing 'dtype'")
        assertRejected(CorruptFiles.file(#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, buffer: [0, 0, 0, 0]), "tensor 'w': missing 'shape'")
        assertRejected(CorruptFiles.file(#"{"w":{"dtype":"F32","shape":[1]}}"#, buffer: [0, 0, 0, 0]), "tensor 'w': missing 'data_offsets'")
        assertRejected(CorruptFiles.file(#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#), "tensor 'w': 'dtype' must be a string, got the number 4")
        assertRejected(CorruptFiles.file(#"{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#),
                       "tensor 'w': 'shape' must be a list of non-negative integers, got a string")
    }

    func testUnknownAndUnsupportedDtype() {
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F17", "[1]", "[0,4]"))}", buffer: [0, 0, 0, 0]),
                       "tensor 'w': unknown dtype 'F17'")
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "f32", "[1]", "[0,4]"))}", buffer: [0, 0, 0, 0]),
                       "tensor 'w': unknown dtype 'f32'")
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F8_E4M3", "[4]", "[0,4]"))}", buffer: [0, 0, 0, 0]),
                       "tensor 'w': dtype F8_E4M3 is not supported (dlserve reads BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)")
    }

    func testNegativeOrNonIntegerShape() {
        let cases = [("[2,-1]", "dimension 1 is the number -1"), ("[1.5]", "dimension 0 is the number 1.5"),
                     ("[1e2]", "dimension 0 is the number 1e2"), ("[\"3\"]", "dimension 0 is a string"),
                     ("[99999999999999999999]", "dimension 0 is the number 99999999999999999999")]
        for (shape, message) in cases {
            assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", shape, "[0,4]"))}", buffer: [0, 0, 0, 0]),
                           "tensor 'w': 'shape' must be a list of non-negative integers; \(message)")
        }
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[4611686018427387904,4]", "[0,4]"))}"), "tensor 'w': shape is too large")
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F64", "[4611686018427387904]", "[0,4]"))}"), "tensor 'w': shape is too large")
    }

    func testIllFormedOffsets() {
        for offsets in ["[0]", "[0,4,8]", "[-4,0]", "[0,4.0]", "\"0,4\"", "[0,99999999999999999999]"] {
            assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[1]", offsets))}", buffer: [0, 0, 0, 0]),
                           "tensor 'w': 'data_offsets' must be a list of two non-negative integers, got ")
        }
    }

    func testReversedOffsets() {
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[1]", "[8,4]"))}", buffer: twelve),
                       "tensor 'w': data_offsets [8, 4] are reversed (begin after end)")
    }

    func testOffsetsOutOfRange() {
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[3]", "[4,16]"))}", buffer: twelve),
                       "tensor 'w': data_offsets [4, 16] run past the end of the 12-byte data buffer")
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[0]", "[18446744073709551615,18446744073709551615]"))}", buffer: twelve),
                       "tensor 'w': data_offsets [18446744073709551615, 18446744073709551615] run past the end")
    }

    func testShapeAndOffsetsDisagree() {
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F32", "[2,3]", "[0,20]"))}", buffer: [UInt8](repeating: 0, count: 20)),
                       "tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20")
        assertRejected(CorruptFiles.file("{\(CorruptFiles.entry("w", "F16", "[3]", "[0,12]"))}", buffer: twelve),
                       "tensor 'w': shape [3] of F16 needs 6 bytes but data_offsets [0, 12] hold 12")
    }

    func testOverlappingTensors() {
        let h = "{\(CorruptFiles.entry("a", "F32", "[2]", "[0,8]")),\(CorruptFiles.entry("b", "F32", "[2]", "[4,12]"))}"
        assertRejected(CorruptFiles.file(h, buffer: twelve), "tensors 'a' and 'b' overlap: 'a' is bytes [0, 8), 'b' starts at 4")
        let same = "{\(CorruptFiles.entry("a", "F32", "[3]", "[0,12]")),\(CorruptFiles.entry("b", "F32", "[3]", "[0,12]"))}"
        assertRejected(CorruptFiles.file(same, buffer: twelve), "overlap")
        // A zero-sized tensor inside another's bytes is an overlap too.
        let inside = "{\(CorruptFiles.entry("a", "F32", "[3]", "[0,12]")),\(CorruptFiles.entry("z", "F32", "[0]", "[4,4]"))}"
        assertRejected(CorruptFiles.file(inside, buffer: twelve), "tensors 'a' and 'z' overlap")
    }

    func testHoles() {
        let h = "{\(CorruptFiles.entry("a", "F32", "[1]", "[0,4]")),\(CorruptFiles.entry("b", "F32", "[1]", "[8,12]"))}"
        assertRejected(CorruptFiles.file(h, buffer: twelve), "bytes [4, 8) of the data buffer belong to no tensor (a hole before 'b')")
        let first = "{\(CorruptFiles.entry("a", "F32", "[2]", "[4,12]"))}"
        assertRejected(CorruptFiles.file(first, buffer: twelve), "bytes [0, 4) of the data buffer belong to no tensor (a hole before 'a')")
    }

    func testTrailingBytes() throws {
        var data = try valid()
        data.append(contentsOf: [1, 2, 3, 4])
        assertRejected(data, "4 trailing bytes after the last tensor: the data buffer is 32 bytes but the tensors cover 28")
        assertRejected(CorruptFiles.file("{}", buffer: [0]), "1 trailing bytes after the last tensor")
    }

    func testZeroSizedTensorsMayShareAnOffset() throws {
        let h = "{\(CorruptFiles.entry("a", "F32", "[0]", "[0,0]")),\(CorruptFiles.entry("b", "F32", "[1]", "[0,4]")),\(CorruptFiles.entry("c", "F32", "[0,2]", "[4,4]"))}"
        let file = try Safetensors.decode(CorruptFiles.file(h, buffer: [0, 0, 0x80, 0x3F]))
        XCTAssertEqual(file.tensors["b"]?.data, [1])
        XCTAssertEqual(file.tensors["c"]?.shape, [0, 2])
    }

    func testUnknownEntryFieldsAndWhitespaceAreAccepted() throws {
        // Forward compatibility, as in the reference reader: extra keys are ignored.
        let h = " {\n \"w\" : {\"dtype\":\"F32\", \"shape\":[1], \"data_offsets\":[0,4], \"extra\": {\"x\": [null, true]}} }   "
        XCTAssertEqual(try Safetensors.decode(CorruptFiles.file(h, buffer: [0, 0, 0x80, 0x3F])).tensors["w"]?.data, [1])
    }

    /// Seeded random mutations of a valid file: byte flips in the header and the
    /// length field, truncations, insertions. The reader must either return a
    /// consistent file or throw ModelError.checkpoint; it must never crash.
    func testMutationsNeverCrash() throws {
        let original = try valid()
        let headerEnd = 8 + Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SeededGenerator(seed: 2024)
        var rejected = 0, accepted = 0
        for round in 0..<600 {
            var bytes = [UInt8](original)
            switch round % 4 {
            case 0, 1:  // flip 1-3 bytes, mostly in the length field and the header
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let i = Int.random(in: 0..<(round % 4 == 0 ? headerEnd : bytes.count), using: &rng)
                    bytes[i] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2:  // truncate, then maybe append junk
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
                if Bool.random(using: &rng) { bytes += (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            default:  // insert or delete a byte inside the header
                let i = Int.random(in: 8..<headerEnd, using: &rng)
                if Bool.random(using: &rng) { bytes.insert(UInt8.random(in: 0x20...0x7E, using: &rng), at: i) } else { bytes.remove(at: i) }
            }
            do {
                let file = try Safetensors.decode(Data(bytes))
                for (_, t) in file.tensors { XCTAssertEqual(t.data.count, t.shape.product) }
                accepted += 1
            } catch ModelError.checkpoint {
                rejected += 1
            } catch {
                XCTFail("round \(round): unexpected error \(error)")
            }
        }
        XCTAssertEqual(accepted + rejected, 600)
        XCTAssertGreaterThan(rejected, 400, "most mutations must be caught")
    }
}
