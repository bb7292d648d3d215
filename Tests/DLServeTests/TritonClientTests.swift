import DLServe
import DLServeTesting
import Foundation
import XCTest

/// A standard KServe V2 client (NVIDIA's tritonclient, Python) against the
/// daemon serving the shipped Fashion-MNIST model, as a new user would write
/// it (scripts/examples/tritonclient_fashion.py): it reads the metadata, sends
/// raw UINT8 pixels as the declared "image" input, and FP32 pixels normalised
/// with the numbers the metadata advertises; both get the model's accuracy.
/// Without the metadata's numbers (pixels scaled to [0, 1]) it does not.
final class TritonClientTests: XCTestCase {
    func testTritonClientClassifiesWithTheAdvertisedPreprocessing() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        guard Self.python("import tritonclient.http, numpy") else {
            throw XCTSkip("tritonclient is not installed (make test installs it: scripts/install-deps.sh --test)")
        }
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("triton-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: models) }
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("models/fashion-mnist"), to: models.appendingPathComponent("fashion-mnist"))
        let live = try await LiveDaemon.startEngine(models: models)
        try await live.waitUntilReady()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", root.appendingPathComponent("scripts/examples/tritonclient_fashion.py").path,
                       "--url", "127.0.0.1:\(live.port)", "--count", "200"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try await live.stop()
        XCTAssertEqual(p.terminationStatus, 0, errors)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], errors)
        let uint8 = try XCTUnwrap(report["image_uint8"] as? Int), fp32 = try XCTUnwrap(report["input_fp32"] as? Int)
        let naive = try XCTUnwrap(report["naive_fp32"] as? Int)
        // The shipped model scores 92% on the test set; these are its first 200 images.
        XCTAssertGreaterThanOrEqual(uint8, 180)
        XCTAssertEqual(uint8, fp32, "the server's preprocessing is the one the metadata advertises")
        XCTAssertLessThan(naive, 120, "unnormalised pixels are not what the model takes")
    }

    static func python(_ code: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", code]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}
