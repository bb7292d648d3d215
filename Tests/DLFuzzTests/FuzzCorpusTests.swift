import DLFuzzTargets
import Foundation
import XCTest

/// Every fuzz target over its checked-in seeds and regressions, in-process
/// (no libFuzzer): ok-* inputs must be accepted, bad-* refused with an error,
/// and every regression (an input fuzzing once crashed on) refused cleanly.
final class FuzzCorpusTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz").standardizedFileURL

    func files(_ folder: String, _ target: String) -> [URL] {
        let dir = Self.root.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Tokenizers take any text: nothing for them to refuse.
    static let acceptsEverything: Set = ["tokenizers"]

    func testEveryTargetHasSeedsOfBothKinds() {
        XCTAssertEqual(FuzzTargets.all.count, 10)
        for target in FuzzTargets.all {
            let names = files("corpus", target.name).map(\.lastPathComponent)
            XCTAssertTrue(names.contains { $0.hasPrefix("ok-") }, "\(target.name): no ok- seed")
            if !Self.acceptsEverything.contains(target.name) {
                XCTAssertTrue(names.contains { $0.hasPrefix("bad-") }, "\(target.name): no bad- seed")
            }
        }
    }

    func testSeedsAreAcceptedOrRefusedAsNamed() throws {
        for target in FuzzTargets.all {
            for url in files("corpus", target.name) {
                let accepted = target.run(Array(try Data(contentsOf: url)))
                let name = url.lastPathComponent
                if name.hasPrefix("ok-") { XCTAssertTrue(accepted, "\(target.name)/\(name) should be accepted") }
                if name.hasPrefix("bad-") { XCTAssertFalse(accepted, "\(target.name)/\(name) should be refused") }
            }
        }
    }

    func testRegressionsAreRefused() throws {
        var count = 0
        for target in FuzzTargets.all {
            for url in files("regressions", target.name) {
                count += 1
                let accepted = target.run(Array(try Data(contentsOf: url)))
                if !url.lastPathComponent.hasPrefix("ok-") {
                    XCTAssertFalse(accepted, "\(target.name)/\(url.lastPathComponent) should be refused")
                }
            }
        }
        print("fuzz regressions replayed: \(count)")
    }
}
