import DLTensor
import Foundation
import XCTest

@testable import DLNN

/// The versioned model repository in a temporary directory. Versions use a
/// layer-free graph (output = input, shape [1, 1, 3]) read as 3-class logits, so
/// these tests need no layer implementation.
final class RepositoryTests: XCTestCase {
    var root: URL!
    var repo: ModelRepository!

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory(self)
        repo = ModelRepository(root: root)
    }

    let labels = ["cat", "dog", "bird"]
    let identity = ModelSpec(inputShape: [1, 1, 3], layers: [], output: "input")

    func config(_ name: String = "pets") -> ModelConfig {
        ModelConfig(name: name, labels: labels, input: .init(shape: [1, 1, 3]))
    }

    /// Writes a valid version directory by hand.
    @discardableResult
    func writeVersion(_ name: String, _ v: String, metrics: String? = #"{"accuracy": 0.9}"#) throws -> URL {
        let dir = root.appendingPathComponent(name).appendingPathComponent(v)
        try GraphModel(spec: identity).save(to: dir)
        if let metrics { try Data(metrics.utf8).write(to: dir.appendingPathComponent("metrics.json")) }
        return dir
    }

    func assertRepositoryError(_ expression: @autoclosure () throws -> Any, _ expected: RepositoryError,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { e in
            XCTAssertEqual(e as? RepositoryError, expected, file: file, line: line)
        }
    }

    // MARK: Listing

    func testListsModelsAndVersionsIgnoringEverythingElse() throws {
        try repo.writeConfig(config("pets"))
        try repo.writeConfig(config("b-2.x_y"))
        for v in ["1", "2", "10"] { try writeVersion("pets", v) }
        let pets = root.appendingPathComponent("pets")
        for noise in ["007", "0", "-1", "3.5", "+4", "latest", ".tmp-publish-1-abc", ".11", "99999999999999999999999"] {
            try FileManager.default.createDirectory(at: pets.appendingPathComponent(noise), withIntermediateDirectories: true)
        }
        try Data().write(to: pets.appendingPathComponent("5"))
        try Data().write(to: root.appendingPathComponent("README.md"))
        for noise in [".hidden", "bad name", "-dash", "_under"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(noise), withIntermediateDirectories: true)
        }
        XCTAssertEqual(try repo.modelNames(), ["b-2.x_y", "pets"])
        XCTAssertEqual(try repo.versions(of: "pets"), [1, 2, 10])
        XCTAssertEqual(try repo.versions(of: "b-2.x_y"), [])
        assertRepositoryError(try repo.versions(of: "nope"), .unknownModel("nope"))
        assertRepositoryError(try repo.versions(of: "../etc"), .invalidName("../etc"))
        XCTAssertThrowsError(try ModelRepository(root: root.appendingPathComponent("missing")).modelNames()) { e in
            guard case .io(let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasPrefix("cannot list model repository at \(self.root.path)/missing"), m)
        }
    }

    func testNameAndVersionSyntax() {
        for ok in ["a", "fashion-mnist", "A.b_c-9", String(repeating: "x", count: 128)] {
            XCTAssertTrue(ModelRepository.isValidName(ok), ok)
        }
        for bad in ["", ".", "..", ".a", "-a", "a/b", "a b", "é", "a\u{0}", String(repeating: "x", count: 129)] {
            XCTAssertFalse(ModelRepository.isValidName(bad), bad)
        }
        XCTAssertEqual(["1", "42", "0", "01", "-1", "+1", "1.0", "", "1a", "99999999999999999999"].map(ModelRepository.parseVersion),
                       [1, 42, nil, nil, nil, nil, nil, nil, nil, nil])
    }

    // MARK: Loading

    func testLoadsAVersionWithConfigMetricsAndRecipe() throws {
        try repo.writeConfig(config())
        let dir = try writeVersion("pets", "3")
        try JSONFile.write(["optimizer": "adam", "epochs": 3] as [String: JSONValue], to: dir.appendingPathComponent("recipe.json"))
        let loaded = try repo.load("pets", version: 3)
        XCTAssertEqual(loaded.name, "pets")
        XCTAssertEqual(loaded.version, 3)
        XCTAssertEqual(loaded.config, config())
        XCTAssertEqual(loaded.metrics, .object(["accuracy": 0.9]))
        XCTAssertEqual(loaded.recipe, .object(["optimizer": "adam", "epochs": 3]))
        XCTAssertEqual(loaded.model.infer(Tensor(shape: [1, 1, 1, 3], data: [3, 1, 2])).data, [3, 1, 2])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("metrics.json"))
        XCTAssertNil(try repo.load("pets", version: 3).metrics, "metrics.json is optional")
    }

    func testLoadErrors() throws {
        try repo.writeConfig(config())
        try writeVersion("pets", "1")
        assertRepositoryError(try repo.load("pets", version: 2), .versionNotFound(model: "pets", version: 2))
        assertRepositoryError(try repo.load("cats", version: 1), .unknownModel("cats"))
        assertRepositoryError(try repo.load("../pets", version: 1), .invalidName("../pets"))

        let dir = root.appendingPathComponent("pets/1")
        try Data("[1]".utf8).write(to: dir.appendingPathComponent("metrics.json"))
        assertRepositoryError(try repo.load("pets", version: 1), .invalidVersion(model: "pets", version: 1, message: "metrics.json must be a JSON object"))
        try Data("{".utf8).write(to: dir.appendingPathComponent("metrics.json"))
        XCTAssertThrowsError(try repo.load("pets", version: 1)) { e in
            guard case .invalidVersion(_, 1, let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasPrefix("metrics.json: not valid JSON"), m)
        }
    }

    func testVersionMustFitTheConfig() throws {
        var c = config()
        c.labels = ["cat", "dog"]
        try repo.writeConfig(c)
        try writeVersion("pets", "1")
        assertRepositoryError(try repo.load("pets", version: 1), .invalidVersion(model: "pets", version: 1,
            message: "the model outputs shape [1, 1, 3] but config.json has 2 labels"))
        c = config()
        c.input.shape = [1, 3, 1]
        try repo.writeConfig(c)
        assertRepositoryError(try repo.load("pets", version: 1), .invalidVersion(model: "pets", version: 1,
            message: "model.json input_shape [1, 1, 3] differs from config.json input.shape [1, 3, 1]"))
    }

    func testLatestValidVersionSkipsBrokenOnes() throws {
        try repo.writeConfig(config())
        try writeVersion("pets", "1")
        try writeVersion("pets", "2")
        // 3: truncated weights; 4: no model.json; 5: an unexpected tensor.
        let w3 = try writeVersion("pets", "3").appendingPathComponent("weights.safetensors")
        try Data(try Data(contentsOf: w3).prefix(10)).write(to: w3)
        try FileManager.default.removeItem(at: try writeVersion("pets", "4").appendingPathComponent("model.json"))
        let w5 = try writeVersion("pets", "5").appendingPathComponent("weights.safetensors")
        try Safetensors.write([("extra", Tensor(zeros: [1]))], to: w5)

        let (loaded, skipped) = try repo.loadLatestValid("pets")
        XCTAssertEqual(loaded.version, 2)
        XCTAssertEqual(skipped.map(\.version), [5, 4, 3])
        XCTAssertEqual(skipped[0].message, "invalid checkpoint: \(w5.path): the weights do not match the architecture: unexpected tensors 'extra'")
        XCTAssertTrue(skipped[1].message.hasPrefix("i/o error: cannot read \(root.path)/pets/4/model.json"), skipped[1].message)
        XCTAssertEqual(skipped[2].message, "invalid checkpoint: \(w3.path): header length 8 is larger than the rest of the file (2 bytes): the file is truncated")
        XCTAssertEqual(try repo.latestValidVersion(of: "pets"), 2)
    }

    func testNoValidVersionListsEveryFailure() throws {
        try repo.writeConfig(config())
        assertRepositoryError(try repo.loadLatestValid("pets"), .noVersions(model: "pets"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("pets/1"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try repo.loadLatestValid("pets")) { e in
            guard case .noValidVersion("pets", let failures)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertEqual(failures.map(\.version), [1])
            XCTAssertTrue("\(e)".hasPrefix("model 'pets' has no valid version: version 1: i/o error: cannot read"), "\(e)")
        }
    }

    func testSpecificVersionPolicyLimitsTheCandidates() throws {
        var c = config()
        c.serving.versionPolicy = .specific([1, 7])
        try repo.writeConfig(c)
        for v in ["1", "2", "3"] { try writeVersion("pets", v) }
        XCTAssertEqual(try repo.latestValidVersion(of: "pets"), 1)
        XCTAssertEqual(VersionPolicy.latest.candidates([1, 3, 2]), [3, 2, 1])
        XCTAssertEqual(VersionPolicy.specific([3, 9]).candidates([1, 3, 2]), [3])
        c.serving.versionPolicy = .specific([9])
        try repo.writeConfig(c)
        assertRepositoryError(try repo.loadLatestValid("pets"), .noVersions(model: "pets"))
    }
}
