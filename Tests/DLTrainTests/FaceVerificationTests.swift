import DLTrain
import Foundation
import XCTest

/// The LFW protocol (threshold choice, ten folds, ROC) on hand-worked cases,
/// and the pairs.txt reader. scripts/eval/faces.py implements the same rules
/// and cross-checks `dlserve eval` against them.
final class FaceVerificationTests: XCTestCase {
    func testBestThresholdSplitsSeparableDistances() {
        let r = Verification.bestThreshold(distances: [0.1, 0.2, 0.3, 0.4], same: [true, true, false, false])
        XCTAssertEqual(r.tau, 0.25, accuracy: 1e-12)
        XCTAssertEqual(r.accuracy, 1)
    }

    func testBestThresholdPrefersTheSmallestTauOnTies() {
        // One same pair and one different pair at one distance: 1/2 whatever tau is.
        let r = Verification.bestThreshold(distances: [0.5, 0.5], same: [true, false])
        XCTAssertEqual(r.accuracy, 0.5)
        XCTAssertEqual(r.tau, -0.5, "below every distance: nothing called same")
        // All same: tau past the largest distance.
        let all = Verification.bestThreshold(distances: [1, 2], same: [true, true])
        XCTAssertEqual(all.tau, 3)
        XCTAssertEqual(all.accuracy, 1)
    }

    func testKFoldChoosesTauOnTheOtherFolds() {
        // Fold 0's pairs alone would want tau 0.5; folds 1 and 2 want tau in (0.2, 0.3),
        // so fold 0 is scored at 0.25 and its pair at 0.4 (same) is called different.
        let distances: [Double] = [0.4, 0.6, 0.2, 0.3, 0.1, 0.35]
        let same = [true, false, true, false, true, false]
        let folds = [0, 0, 1, 1, 2, 2]
        let s = Verification.kFold(distances: distances, same: same, folds: folds)
        XCTAssertEqual(s.folds, 3)
        XCTAssertEqual(s.pairs, 6)
        XCTAssertEqual(s.foldAccuracies, [0.5, 1, 1])
        XCTAssertEqual(s.foldTaus[0], 0.25, accuracy: 1e-12)
        XCTAssertEqual(s.accuracyMean, 2.5 / 3, accuracy: 1e-12)
        let mean = 2.5 / 3
        let std = (([0.5, 1, 1].map { ($0 - mean) * ($0 - mean) }.reduce(0, +)) / 3).squareRoot()
        XCTAssertEqual(s.accuracyStd, std, accuracy: 1e-12)
    }

    func testROCAreaOnSeparableReversedAndTiedDistances() {
        XCTAssertEqual(ROCCurve(distances: [0.1, 0.2, 0.8, 0.9], same: [true, true, false, false]).auc, 1)
        XCTAssertEqual(ROCCurve(distances: [0.9, 0.8, 0.2, 0.1], same: [true, true, false, false]).auc, 0)
        XCTAssertEqual(ROCCurve(distances: [0.5, 0.5, 0.5, 0.5], same: [true, false, true, false]).auc, 0.5)
        // One inversion out of four positive-negative orderings.
        let r = ROCCurve(distances: [0.1, 0.3, 0.2, 0.4], same: [true, true, false, false])
        XCTAssertEqual(r.auc, 0.75, accuracy: 1e-12)
        XCTAssertEqual(r.points.first!.fpr, 0); XCTAssertEqual(r.points.last!.tpr, 1)
        let svg = r.svg(title: "test <1>")
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("AUC 0.7500"))
        XCTAssertTrue(svg.contains("test &lt;1>"))
    }

    func testPairsFileInLFWFormat() throws {
        let text = "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\nBob 1 3\nAnn 2 Bob 1\n"
        let p = try FacePairs.parse(text)
        XCTAssertEqual(p.folds, 2)
        XCTAssertEqual(p.pairs.map(\.same), [true, false, true, false])
        XCTAssertEqual(p.pairs.map(\.fold), [0, 0, 1, 1])
        XCTAssertEqual(p.pairs[1].b.person, "Bob")
        XCTAssertEqual(p.pairs[1].b.number, 3)
        // LFW's pairsDevTrain.txt header has only the count: one fold.
        XCTAssertEqual(try FacePairs.parse("1\nAnn 1 2\nAnn 1 Bob 1\n").folds, 1)
    }

    func testPairsFileErrorsNameTheLine() {
        XCTAssertThrowsError(try FacePairs.parse("x\n")) { XCTAssertTrue("\($0)".contains(":1:"), "\($0)") }
        XCTAssertThrowsError(try FacePairs.parse("1\t1\nAnn 1\nAnn 1 Bob 1\n")) { XCTAssertTrue("\($0)".contains(":2:"), "\($0)") }
        XCTAssertThrowsError(try FacePairs.parse("1\t2\nAnn 1 2\nAnn 1 Bob 1\n")) { XCTAssertTrue("\($0)".contains("need 4 lines"), "\($0)") }
    }
}
