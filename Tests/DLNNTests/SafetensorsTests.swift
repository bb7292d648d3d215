import DLTensor
import DLTesting
import Foundation
import XCTest

@testable import DLNN

/// Reading and writing the safetensors format, against files written by the
/// reference implementation (scripts/fixtures/safetensors_fixture.py).
final class SafetensorsTests: XCTestCase {
    func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"), name)
    }

    func testRoundTripKeepsEveryBitShapeAndMetadata() throws {
        var rng = SeededGenerator(seed: 3)
        let tensors: [(name: String, tensor: Tensor)] = [
            ("z.weight", Tensor.normal([3, 5], std: 2, rng: &rng)),
            ("a.bias", Tensor(shape: [4], data: [0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude])),
            ("scalar", Tensor(scalar: -7.5)),
            ("empty", Tensor(zeros: [0, 3])),
            ("ünïcode \"quoted\"\n", Tensor(shape: [1, 1, 2], data: [1, 2])),
        ]
        let metadata = ["format": "pt", "note": "tab\there, quote \" and \\ and \u{01}"]
        let data = try Safetensors.encode(tensors, metadata: metadata)

        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(n % 8, 0, "header padded to a multiple of 8")
        XCTAssertEqual(data.count, 8 + n + (15 + 4 + 1 + 0 + 2) * 4)

        let file = try Safetensors.decode(data)
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file.names, ["a.bias", "empty", "scalar", "z.weight", "ünïcode \"quoted\"\n"])
        for (name, t) in tensors {
            let got = try XCTUnwrap(file.tensors[name], name)
            XCTAssertEqual(got.shape, t.shape, name)
            XCTAssertEqual(got.data.map(\.bitPattern), t.data.map(\.bitPattern), name)
            XCTAssertEqual(file.dtypes[name], .F32)
        }
    }

    func testHeaderIsSortedCompactAndSpacePadded() throws {
        let data = try Safetensors.encode([("b", Tensor(shape: [2], data: [1, 2])), ("a", Tensor(scalar: 3))])
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = String(decoding: data.dropFirst(8).prefix(n), as: UTF8.self)
        let json = #"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        XCTAssertEqual(n, (json.utf8.count + 7) / 8 * 8)
        XCTAssertEqual(header, json + String(repeating: " ", count: n - json.utf8.count))
        XCTAssertEqual(Array(data.suffix(12)), [0, 0, 0x40, 0x40, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40], "3.0 then 1.0, 2.0 little-endian")
    }

    func testWriteIsAtomicAndReadable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("w.safetensors")
        try Safetensors.write([("x", Tensor(shape: [2], data: [1, 2]))], to: url)
        try Safetensors.write([("x", Tensor(shape: [3], data: [4, 5, 6]))], to: url)
        XCTAssertEqual(try Safetensors.read(contentsOf: url).tensors["x"]?.data, [4, 5, 6])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["w.safetensors"], "no temporary left behind")
    }

    func testReadErrorsNameTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).safetensors")
        try Data([1, 2, 3]).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try Safetensors.read(contentsOf: url)) { e in
            XCTAssertEqual(e as? ModelError, .checkpoint("\(url.path): file is 3 bytes, too short for the 8-byte header length"))
        }
        XCTAssertThrowsError(try Safetensors.read(contentsOf: url.appendingPathExtension("missing"))) { e in
            guard case .io(let m)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("missing"), m)
        }
    }

    // MARK: Files written by the reference implementation

    func testReadsReferenceFloat32File() throws {
        let file = try Safetensors.read(contentsOf: fixture("st_reference_f32.safetensors"))
        let expected = try loadFixtures(fixture("st_expected.json"))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names, ["bn.running_var", "empty", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "scalar"])
        for name in file.names {
            assertClose(try XCTUnwrap(file.tensors[name]), try XCTUnwrap(expected[name]), rtol: 0, atol: 0, name)
        }
        XCTAssertEqual(file.tensors["scalar"]?.shape, [])
        XCTAssertEqual(file.tensors["empty"]?.shape, [0, 3])
    }

    func testWriterReproducesReferenceBytes() throws {
        let url = try fixture("st_reference_f32.safetensors")
        let reference = try Data(contentsOf: url)
        let file = try Safetensors.read(contentsOf: url)
        // Shuffled input order: the writer sorts like the reference.
        let tensors = file.names.reversed().map { ($0, file.tensors[$0]!) }
        XCTAssertEqual(try Safetensors.encode(tensors, metadata: file.metadata), reference)
    }

    func testReadsReferenceMixedDtypesAsFloat32() throws {
        let file = try Safetensors.read(contentsOf: fixture("st_mixed_dtypes.safetensors"))
        let expected = try loadFixtures(fixture("st_expected.json"))
        XCTAssertEqual(file.dtypes["half"], .F16)
        XCTAssertEqual(file.dtypes["double"], .F64)
        XCTAssertEqual(file.dtypes["bn.num_batches_tracked"], .I64)
        XCTAssertEqual(file.dtypes["mask"], .BOOL)
        for name in ["half", "double", "bn.num_batches_tracked", "int32", "uint8", "mask"] {
            assertClose(try XCTUnwrap(file.tensors[name]), try XCTUnwrap(expected[name]), rtol: 0, atol: 0, name)
        }
        // Exact F16 values: the smallest subnormal 2^-24, the largest subnormal 1023 * 2^-24
        // (6.1e-5 rounded to half), the largest finite 65504, and -0.
        XCTAssertEqual(file.tensors["half"]?.data, [1, -2.5, 0, 0, 65504, 0x1p-24, 0x3FFp-24, 0.333251953125])
        XCTAssertEqual(file.tensors["half"]?.data[3].sign, .minus)
        XCTAssertEqual(file.tensors["half_inf"]?.data, [.infinity, -.infinity])
        XCTAssertEqual(file.tensors["double"]?.data, [Float(1e-3), -7.25, 1e10])
        XCTAssertEqual(file.tensors["int32"]?.data, [-3, 0, 16_777_216])
    }

    func testReadsBFloat16() throws {
        // bfloat16 is the top half of a float32: 1.0 = 0x3F80, -2.5 = 0xC020, 0x7FC0 = NaN.
        let data = CorruptFiles.file(#"{"b":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}"#,
                                     buffer: [0x80, 0x3F, 0x20, 0xC0, 0xC0, 0x7F])
        let t = try XCTUnwrap(Safetensors.decode(data).tensors["b"])
        XCTAssertEqual(Array(t.data.prefix(2)), [1, -2.5])
        XCTAssertTrue(t.data[2].isNaN)
    }

    func testHalfToFloatIsExactForAllBitPatterns() throws {
        #if !(os(macOS) && arch(x86_64))
        for h in 0...UInt16.max {
            let want = Float(Float16(bitPattern: h))
            let got = halfToFloat(h)
            if want.isNaN {
                XCTAssertTrue(got.isNaN, "\(h)")
            } else {
                XCTAssertEqual(got.bitPattern, want.bitPattern, "half bits \(String(h, radix: 16))")
            }
        }
        #else
        throw XCTSkip("Float16 is unavailable on macOS x86_64")
        #endif
    }

    func testEmptyFileHoldsNoTensors() throws {
        let data = try Safetensors.encode([])
        XCTAssertEqual(data.count, 16)
        XCTAssertTrue(try Safetensors.decode(data).tensors.isEmpty)
    }

    func testWriterRejectsDuplicateAndReservedNames() {
        let t = Tensor(scalar: 1)
        XCTAssertThrowsError(try Safetensors.encode([("a", t), ("a", t)])) {
            XCTAssertEqual($0 as? ModelError, .checkpoint("tensor 'a' appears twice"))
        }
        XCTAssertThrowsError(try Safetensors.encode([("__metadata__", t)])) {
            XCTAssertEqual($0 as? ModelError, .checkpoint("'__metadata__' is reserved and cannot name a tensor"))
        }
    }
}
