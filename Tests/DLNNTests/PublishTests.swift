import DLTensor
import Foundation
import XCTest

@testable import DLNN

/// Atomic files and atomic publication of new versions.
final class PublishTests: XCTestCase {
    var root: URL!
    var repo: ModelRepository!

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory(self)
        repo = ModelRepository(root: root)
    }

    let identity = ModelSpec(inputShape: [1, 1, 3], layers: [], output: "input")

    func entries(_ url: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }

    func buildValid(_ dir: URL) throws {
        try GraphModel(spec: identity).save(to: dir)
        try JSONFile.write(["accuracy": 0.5] as [String: JSONValue], to: dir.appendingPathComponent("metrics.json"))
        try JSONFile.write(["epochs": 1] as [String: JSONValue], to: dir.appendingPathComponent("recipe.json"))
    }

    // MARK: AtomicFile

    func testAtomicWriteReplacesAndLeavesNoTemporary() throws {
        let url = root.appendingPathComponent("state.json")
        try AtomicFile.write(Data("one".utf8), to: url)
        try AtomicFile.write(Data("two".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "two")
        XCTAssertEqual(try entries(root), ["state.json"])
    }

    func testAtomicWriteIntoMissingDirectoryFailsCleanly() {
        let url = root.appendingPathComponent("no/such/file")
        XCTAssertThrowsError(try AtomicFile.write(Data(), to: url)) { e in
            guard case .io(let m)? = e as? ModelError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasPrefix("cannot create \(self.root.path)/no/such/.file.tmp-"), m)
            XCTAssertTrue(m.hasSuffix(": No such file or directory"), m)
        }
    }

    func testPublishDirectoryRetriesWhenTheNameIsTaken() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("1"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: root.appendingPathComponent("1/keep"))
        var asked: [Int] = []
        let url = try AtomicFile.publishDirectory(in: root, build: { try Data("new".utf8).write(to: $0.appendingPathComponent("f")) },
                                                  name: { asked.append($0); return String($0 + 1) })
        XCTAssertEqual(url.lastPathComponent, "2")
        XCTAssertEqual(asked, [0, 1])
        XCTAssertEqual(try entries(root.appendingPathComponent("1")), ["keep"], "the existing directory is untouched")
        XCTAssertEqual(try entries(root), ["1", "2"])

        XCTAssertThrowsError(try AtomicFile.publishDirectory(at: root.appendingPathComponent("2"), build: {
            try Data().write(to: $0.appendingPathComponent("g"))
        })) { XCTAssertEqual($0 as? ModelError, .io("cannot publish \(self.root.path)/2: it already exists")) }
        XCTAssertEqual(try entries(root), ["1", "2"], "the temporary directory is removed")
    }

    // MARK: ModelRepository.publish

    func testPublishNumbersVersionsFromOne() throws {
        XCTAssertEqual(try repo.publish(name: "pets", build: buildValid), 1)
        XCTAssertEqual(try repo.publish(name: "pets", build: buildValid), 2)
        XCTAssertEqual(try repo.versions(of: "pets"), [1, 2])
        XCTAssertEqual(try entries(root.appendingPathComponent("pets/2")), ["metrics.json", "model.json", "recipe.json", "weights.safetensors"])
        XCTAssertEqual(try entries(root.appendingPathComponent("pets")), ["1", "2"], "no temporary left")
        // Numbers keep growing past gaps and stray integer-named files.
        try Data().write(to: root.appendingPathComponent("pets/7"))
        XCTAssertEqual(try repo.publish(name: "pets", build: buildValid), 8)
    }

    func testFailedBuildPublishesNothing() throws {
        struct Boom: Error {}
        XCTAssertThrowsError(try repo.publish(name: "pets") { dir in
            try Data("half".utf8).write(to: dir.appendingPathComponent("model.json"))
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try entries(root.appendingPathComponent("pets")), [])
    }

    func testValidationRejectsABrokenBuild() throws {
        XCTAssertThrowsError(try repo.publish(name: "pets") { dir in
            try self.buildValid(dir)
            try Data([1, 2, 3]).write(to: dir.appendingPathComponent("weights.safetensors"))
        }) { e in
            guard case .invalidBuild("pets", let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasSuffix("weights.safetensors: file is 3 bytes, too short for the 8-byte header length"), m)
        }
        XCTAssertEqual(try entries(root.appendingPathComponent("pets")), [])

        // Against config.json: 2 labels but the model has 3 outputs.
        try repo.writeConfig(ModelConfig(name: "pets", labels: ["a", "b"], input: .init(shape: [1, 1, 3])))
        XCTAssertThrowsError(try repo.publish(name: "pets", build: buildValid)) {
            XCTAssertEqual($0 as? RepositoryError, .invalidBuild(model: "pets", message: "the model outputs shape [1, 1, 3] but config.json has 2 labels"))
        }
        XCTAssertThrowsError(try repo.publish(name: "pets", validate: false) { _ in }) { e in
            guard case .io(let m)? = e as? RepositoryError else { return XCTFail("\(e)") }
            XCTAssertTrue(m.hasSuffix("the build produced an empty directory"), m)
        }
        XCTAssertEqual(try entries(root.appendingPathComponent("pets")), ["config.json"])
        assertPublishRejectsName("../evil")
    }

    func assertPublishRejectsName(_ name: String) {
        XCTAssertThrowsError(try repo.publish(name: name, build: buildValid)) {
            XCTAssertEqual($0 as? RepositoryError, .invalidName(name))
        }
    }

    func testConcurrentPublishersGetDistinctVersions() throws {
        let n = 12
        let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { results.deallocate() }
        let repo = self.repo!
        DispatchQueue.concurrentPerform(iterations: n) { i in
            results[i] = (try? repo.publish(name: "race", validate: false) { dir in
                try Data("\(i)".utf8).write(to: dir.appendingPathComponent("who"))
            }) ?? -1
        }
        XCTAssertEqual(results.sorted(), Array(1...n))
        for i in 0..<n {
            let who = try String(contentsOf: root.appendingPathComponent("race/\(results[i])/who"), encoding: .utf8)
            XCTAssertEqual(who, "\(i)", "version \(results[i]) holds its own publisher's file")
        }
        XCTAssertEqual(try repo.versions(of: "race"), Array(1...n))
        XCTAssertEqual(try entries(root.appendingPathComponent("race")).count, n, "no temporaries left")
    }

    func testPublishedVersionLoads() throws {
        try repo.writeConfig(ModelConfig(name: "pets", labels: ["a", "b", "c"], input: .init(shape: [1, 1, 3])))
        let v = try repo.publish(name: "pets", build: buildValid)
        let loaded = try repo.load("pets", version: v)
        XCTAssertEqual(loaded.metrics, .object(["accuracy": 0.5]))
        XCTAssertEqual(loaded.recipe, .object(["epochs": 1]))
    }

    func testPublishModelMetricsAndRecipe() throws {
        struct Metrics: Encodable { var accuracy: Double; var loss: Double }
        let v = try repo.publish(name: "pets", model: GraphModel(spec: identity), metrics: Metrics(accuracy: 0.93, loss: 0.2),
                                 recipe: ["dataset": "fashion-mnist"] as [String: JSONValue])
        XCTAssertEqual(v, 1)
        let dir = root.appendingPathComponent("pets/1")
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("metrics.json"), encoding: .utf8),
                       "{\n  \"accuracy\" : 0.93,\n  \"loss\" : 0.2\n}\n")
        XCTAssertThrowsError(try repo.publish(name: "pets", model: GraphModel(spec: identity), metrics: [0.93], recipe: [String: String]())) {
            XCTAssertEqual($0 as? RepositoryError, .invalidBuild(model: "pets", message: "metrics.json must be a JSON object"))
        }
    }

    func testStaleTemporariesAreRemoved() throws {
        let pets = root.appendingPathComponent("pets")
        let old = pets.appendingPathComponent(".tmp-publish-1-old")
        let fresh = pets.appendingPathComponent(".tmp-publish-2-new")
        let oldFile = pets.appendingPathComponent(".config.json.tmp-3-x")
        for d in [old, fresh] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        try Data().write(to: oldFile)
        try Data().write(to: pets.appendingPathComponent(".keepme"))
        let past = Date(timeIntervalSinceNow: -7200)
        for u in [old, oldFile] { try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: u.path) }
        XCTAssertEqual(Set(repo.removeStaleTemporaries(olderThan: 3600).map(\.lastPathComponent)), [old.lastPathComponent, oldFile.lastPathComponent])
        XCTAssertEqual(try entries(pets), [".keepme", ".tmp-publish-2-new"])
    }
}
