import DLNN
import DLTensor
import DLText
import DLTrain
import Foundation
import XCTest

/// The shipped translation model (models/translate-en-es) on the fixed
/// 300-sentence slices of the two test sets (Fixtures/translation, made by
/// scripts/data/translation_test_slices.py; no training step saw them).
/// `make eval-translation EVAL_ARGS=--write-metrics` scored the whole test
/// sets and these slices with the same decoding and recorded both in
/// metrics.json; this test decodes the slices again and holds the model to
/// the recorded slice scores (within 0.5 BLEU: a different BLAS thread count
/// may reorder sums), and checks that the whole-set scores were recorded
/// beside Apertium's from the same run. Whether a version meets the issue's
/// bars (Bible >= 1.5x Apertium, LibreOffice >= Apertium) is that record,
/// printed here and in the README, not a condition of the build.
final class ShippedTranslationModelTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/translation")

    func testTheShippedModelHoldsItsScoresOnTheTestSlices() throws {
        let repository = ModelRepository(root: Self.root.appendingPathComponent("models"))
        guard (try? repository.versions(of: "translate-en-es"))?.isEmpty == false else {
            throw XCTSkip("no translation model is shipped yet (models/translate-en-es)")
        }
        let (loaded, skipped) = try repository.loadLatestValid("translate-en-es")
        XCTAssertEqual(skipped, [])
        XCTAssertEqual(loaded.config.task, .translation)
        let subwords = try TranslationSubwords.load(from: loaded.directory)
        guard case .object(let metrics)? = loaded.metrics, case .object(let test)? = metrics["test"] else {
            return XCTFail("metrics.json has no test section (make eval-translation EVAL_ARGS=--write-metrics)")
        }
        // The bars on the whole test sets, against Apertium in the same run.
        func number(_ v: JSONValue?, _ path: String...) -> Double? {
            var v = v
            for p in path { guard case .object(let o)? = v else { return nil }; v = o[p] }
            if case .number(let x)? = v { return x }
            return nil
        }
        let bible = try XCTUnwrap(number(test["bible"], "dlserve", "bleu"))
        let bibleApertium = try XCTUnwrap(number(test["bible"], "apertium", "bleu"))
        let office = try XCTUnwrap(number(test["libreoffice"], "dlserve", "bleu"))
        let officeApertium = try XCTUnwrap(number(test["libreoffice"], "apertium", "bleu"))
        for (name, ours, peer) in [("bible", bible, bibleApertium), ("libreoffice", office, officeApertium)] {
            XCTAssertGreaterThan(peer, 5, "\(name): Apertium's BLEU from the same run")
            XCTAssertGreaterThan(ours, 0, "\(name): dlserve's BLEU")
            print("\(name) test set: dlserve BLEU \(ours), Apertium \(peer), ratio \(ours / peer)")
        }

        for name in ["bible", "libreoffice"] {
            let pairs = try TranslationPairs.read(Self.fixtures.appendingPathComponent("\(name).tsv"))
            XCTAssertEqual(pairs.count, 300)
            let recorded = try XCTUnwrap(number(test[name], "slice", "bleu"), "\(name) slice score in metrics.json")
            let beam = Int(try XCTUnwrap(number(test[name], "dlserve", "beam_width")))
            let alpha = try XCTUnwrap(number(test[name], "dlserve", "length_penalty"))
            let (score, _) = try TranslationScore.measure(loaded.model, subwords: subwords, pairs: pairs, beamWidth: beam, lengthPenalty: alpha)
            print("\(name) slice: BLEU \(score.bleu) chrF \(score.chrf) (recorded \(recorded)), \(score.seconds) s")
            XCTAssertEqual(score.bleu, recorded, accuracy: 0.5, "\(name) slice BLEU")
        }
    }
}
