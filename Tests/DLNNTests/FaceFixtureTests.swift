import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// The face-embedding pieces against scripts/fixtures/face_fixtures.py
/// (PyTorch 2.13): F.normalize, TripletMarginWithDistanceLoss (squared, the
/// FaceNet loss) and TripletMarginLoss (unsquared), batch-hard and semi-hard
/// mining, the siamese pair classifier; plus finite-difference checks.
final class FaceFixtureTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "faces", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    func input(_ name: String) -> Tensor {
        let t = f[name]!
        return Tensor(shape: t.shape, data: t.data, requiresGrad: true)
    }

    func labels(_ name: String) -> [Int] { f[name]!.data.map { Int($0) } }

    func testL2NormalizeMatchesPyTorch() {
        let x = input("l2n_x")
        let y = L2Normalize()(x, ForwardContext(training: true))
        assertClose(y, f["l2n_y"]!, rtol: 1e-5, atol: 1e-6)
        (y * f["l2n_g"]!).sum().backward()
        assertClose(x.grad!, f["l2n_dx"]!.data, "dx")
        let zero = input("l2n_zero_x")
        assertClose(zero.l2Normalized(), f["l2n_zero_y"]!, rtol: 1e-5, atol: 1e-6)
    }

    func testL2NormalizeGradientByFiniteDifferences() {
        let x = input("l2n_x"), g = f["l2n_g"]!
        assertGradient(x, tolerance: 1e-3, "l2_normalize") { (x.l2Normalized() * g).sum() }
    }

    func testL2NormalizeLayerFromModelJSON() throws {
        let spec = LayerSpec(name: "e", type: "l2_normalize", inputs: ["x"], attrs: [:])
        let layer = try LayerRegistry.make(spec, inputShapes: [[8]], rng: SeededGeneratorBox(seed: 1))
        XCTAssertEqual(try (layer as! L2Normalize).outputShape([8]), [8])
        XCTAssertThrowsError(try (layer as! L2Normalize).outputShape([2, 4]))
        let bad = LayerSpec(name: "e", type: "l2_normalize", inputs: ["x"], attrs: ["eps": 0])
        XCTAssertThrowsError(try LayerRegistry.make(bad, inputShapes: [[8]], rng: SeededGeneratorBox(seed: 1)))
    }

    func testFaceNetTripletLossMatchesPyTorch() {
        let a = input("tml_a"), p = input("tml_p"), n = input("tml_n")
        let loss = tripletLoss(anchor: a, positive: p, negative: n, alpha: f["tml_alpha"]!.scalar)
        assertClose(loss, f["tml_loss"]!)
        loss.backward()
        assertClose(a.grad!, f["tml_ga"]!.data, "anchor")
        assertClose(p.grad!, f["tml_gp"]!.data, "positive")
        assertClose(n.grad!, f["tml_gn"]!.data, "negative")
    }

    func testUnsquaredTripletMarginLossMatchesPyTorch() {
        let a = input("tml_a"), p = input("tml_p"), n = input("tml_n")
        let loss = tripletMarginLoss(anchor: a, positive: p, negative: n, margin: f["tml_alpha"]!.scalar)
        assertClose(loss, f["tml_unsq_loss"]!)
        loss.backward()
        assertClose(a.grad!, f["tml_unsq_ga"]!.data, "anchor")
        assertClose(p.grad!, f["tml_unsq_gp"]!.data, "positive")
        assertClose(n.grad!, f["tml_unsq_gn"]!.data, "negative")
    }

    func testBatchHardMatchesReference() {
        let e = input("bh_emb")
        let (loss, t) = minedTripletLoss(embeddings: e, labels: labels("bh_labels"), alpha: f["bh_alpha"]!.scalar, mining: .batchHard)
        XCTAssertEqual(t.count, 8, "one triplet per anchor")
        assertClose(loss, f["bh_loss"]!)
        loss.backward()
        assertClose(e.grad!, f["bh_grad"]!.data, "embeddings")
    }

    func testSemiHardMatchesReference() {
        let e = input("sh_emb"), l = labels("sh_labels")
        let (loss, t) = minedTripletLoss(embeddings: e, labels: l, alpha: f["sh_alpha"]!.scalar, mining: .semiHard)
        let positivePairs = l.indices.reduce(0) { acc, i in acc + l.indices.filter { $0 != i && l[$0] == l[i] }.count }
        XCTAssertEqual(t.count, positivePairs, "one triplet per ordered positive pair")
        assertClose(loss, f["sh_loss"]!)
        loss.backward()
        assertClose(e.grad!, f["sh_grad"]!.data, "embeddings")
    }

    func testMinedLossGradientByFiniteDifferences() {
        for mining in TripletMining.allCases {
            let e = input(mining == .batchHard ? "bh_emb" : "sh_emb")
            let l = labels(mining == .batchHard ? "bh_labels" : "sh_labels")
            // Small steps keep the mined triplets fixed (no ties within 1e-3 in the fixture).
            assertGradient(e, epsilon: 1e-3, tolerance: 2e-2, "\(mining)") {
                minedTripletLoss(embeddings: e, labels: l, alpha: 0.5, mining: mining).loss
            }
        }
    }

    func testMiningSkipsAnchorsWithoutPositiveOrNegative() {
        let e = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 0.6, 0.8], requiresGrad: true)
        XCTAssertEqual(MinedTriplets.mine(e, labels: [0, 1, 2], mining: .batchHard).count, 0, "no positives")
        XCTAssertEqual(MinedTriplets.mine(e, labels: [0, 0, 0], mining: .semiHard).count, 0, "no negatives")
        let (loss, t) = minedTripletLoss(embeddings: e, labels: [0, 1, 2])
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(loss.scalar, 0)
        loss.backward()
        XCTAssertEqual(e.grad ?? [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0])
    }

    func testPairClassifierMatchesPyTorch() {
        let a = input("sp_a"), b = input("sp_b"), w = input("sp_w")
        let bias = Tensor(shape: [1], data: [f["sp_bias"]!.scalar], requiresGrad: true)
        let loss = pairClassifierLoss(a, b, weight: w, bias: bias, same: f["sp_y"]!.data)
        assertClose(loss, f["sp_loss"]!)
        loss.backward()
        assertClose(a.grad!, f["sp_ga"]!.data, "a")
        assertClose(b.grad!, f["sp_gb"]!.data, "b")
        assertClose(w.grad!, f["sp_gw"]!.data, "weight")
        assertClose(bias.grad!, [f["sp_gbias"]!.scalar], "bias")
    }

    func testVerificationFileDistancesAgreeWithTheLosses() {
        let a = f["sp_a"]!, b = f["sp_b"]!, w = f["sp_w"]!
        let euclid = VerificationFile(dim: 6, tau: 1)
        let pair = VerificationFile(dim: 6, metric: .pairClassifier, tau: 0, weights: w.data, bias: f["sp_bias"]!.scalar)
        XCTAssertNil(pair.problem)
        let logits = pairClassifierLogits(a, b, weight: w, bias: Tensor(shape: [1], data: [f["sp_bias"]!.scalar]))
        for r in 0..<5 {
            let ra = Array(a.data[(r * 6)..<(r * 6 + 6)]), rb = Array(b.data[(r * 6)..<(r * 6 + 6)])
            let sq = zip(ra, rb).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            XCTAssertEqual(euclid.distance(ra, rb), sq, accuracy: 1e-5)
            XCTAssertEqual(pair.distance(ra, rb), -logits.data[r], accuracy: 1e-5, "pair classifier distance is -logit")
        }
        XCTAssertNotNil(VerificationFile(dim: 6, metric: .pairClassifier, tau: 0).problem, "weights missing")
    }
}
