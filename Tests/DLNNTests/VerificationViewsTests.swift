import DLTensor
import Foundation
import XCTest

@testable import DLNN

/// Test-time views of `verification.json`: shifted (edges replicated) and
/// mirrored copies of each photo, averaged with or without rescaling to unit length.
final class VerificationViewsTests: XCTestCase {
    // One photo, 1 x 2 x 3: rows [1 2 3] and [4 5 6].
    let photo = Tensor(shape: [1, 1, 2, 3], data: [1, 2, 3, 4, 5, 6])

    func testShiftMovesContentAndReplicatesEdges() {
        XCTAssertEqual(VerificationFile.shift(photo, dx: 1, dy: 0).data, [1, 1, 2, 4, 4, 5])
        XCTAssertEqual(VerificationFile.shift(photo, dx: -2, dy: 0).data, [3, 3, 3, 6, 6, 6])
        XCTAssertEqual(VerificationFile.shift(photo, dx: 0, dy: -1).data, [4, 5, 6, 4, 5, 6])
        XCTAssertEqual(VerificationFile.shift(photo, dx: 1, dy: 1).data, [1, 1, 2, 1, 1, 2])
    }

    func testViewsAreEachShiftThenTheirMirrors() {
        let file = VerificationFile(dim: 2, tau: 1, flipAverage: true, viewShifts: [[0, 0], [1, 0]])
        XCTAssertEqual(file.viewCount, 4)
        let two = Tensor(shape: [2, 1, 2, 3], data: [1, 2, 3, 4, 5, 6, 0, 0, 9, 0, 0, 9])
        let views = file.views(two)
        XCTAssertEqual(views.shape, [8, 1, 2, 3])
        XCTAssertEqual(Array(views.data[0..<12]), two.data)  // shift (0, 0) of both photos
        XCTAssertEqual(Array(views.data[12..<18]), [1, 1, 2, 4, 4, 5])  // shift (1, 0) of photo 0
        XCTAssertEqual(Array(views.data[24..<30]), [3, 2, 1, 6, 5, 4])  // the mirror of photo 0
        XCTAssertEqual(Array(views.data[36..<42]), [2, 1, 1, 5, 4, 4])  // the mirror of photo 0 shifted
    }

    /// A stand-in model: each view's embedding is [first pixel, last pixel] / 10.
    func run(_ x: Tensor) -> Tensor {
        let n = x.shape[0], per = x.count / n
        var out: [Float] = []
        for i in 0..<n {
            out.append(x.data[i * per] / 10)
            out.append(x.data[i * per + per - 1] / 10)
        }
        return Tensor(shape: [n, 2], data: out)
    }

    func testEmbeddingIsTheMeanOfTheViewsRescaledOrNot() {
        // Views of the photo: (0,0) [1 .. 6], (1,0) [1 .. 5], mirrors [3 .. 4] and [2 .. 4].
        let mean: [Float] = [(1 + 1 + 3 + 2) / 40, (6 + 5 + 4 + 4) / 40]
        let raw = VerificationFile(dim: 2, tau: 1, flipAverage: true, viewShifts: [[0, 0], [1, 0]], normalizeMean: false)
        let unit = VerificationFile(dim: 2, tau: 1, flipAverage: true, viewShifts: [[0, 0], [1, 0]])
        let e = raw.embed(photo, run: run)[0]
        XCTAssertEqual(e[0], mean[0], accuracy: 1e-6)
        XCTAssertEqual(e[1], mean[1], accuracy: 1e-6)
        let norm = (mean[0] * mean[0] + mean[1] * mean[1]).squareRoot()
        let u = unit.embed(photo, run: run)[0]
        XCTAssertEqual(u[0], mean[0] / norm, accuracy: 1e-6)
        XCTAssertEqual(u[1], mean[1] / norm, accuracy: 1e-6)
        // A gallery template follows the same rule.
        XCTAssertEqual(raw.mean([[1, 0], [0, 1]]), [0.5, 0.5])
        XCTAssertEqual(unit.mean([[1, 0], [0, 1]])[0], Float(0.5).squareRoot(), accuracy: 1e-6)
    }

    func testFileRoundTripsAndOlderFilesKeepTheirMeaning() throws {
        let old = try JSONDecoder().decode(VerificationFile.self, from: Data(#"{"dim": 4, "metric": "squared_euclidean", "tau": 0.9, "flip_average": true}"#.utf8))
        XCTAssertNil(old.viewShifts)
        XCTAssertTrue(old.normalizeMean)
        XCTAssertEqual(old.viewCount, 2)
        let encoded = String(decoding: try JSONFile.encode(old), as: UTF8.self)
        XCTAssertFalse(encoded.contains("view_shifts") || encoded.contains("normalize_mean"), encoded)
        let views = VerificationFile(dim: 4, tau: 0.5, flipAverage: true, viewShifts: [[0, 0], [2, 0]], normalizeMean: false)
        XCTAssertEqual(try JSONDecoder().decode(VerificationFile.self, from: try JSONFile.encode(views)), views)
        XCTAssertNil(views.problem)
        XCTAssertNotNil(VerificationFile(dim: 4, tau: 0.5, viewShifts: [[0, 0, 1]]).problem)
        XCTAssertNotNil(VerificationFile(dim: 4, tau: 0.5, viewShifts: [[40, 0]]).problem)
        XCTAssertNotNil(VerificationFile(dim: 4, tau: 0.5, viewShifts: []).problem)
    }
}
