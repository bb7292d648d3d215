import DLNN
import DLTensor
import DLTesting
import Foundation
import XCTest

/// Golden values from scripts/fixtures/dense_fixtures.py (float64 NumPy),
/// compared within 1e-4.
final class DenseFixtureTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "dense", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    /// A fresh copy of a fixture tensor that requires grad.
    func input(_ name: String) -> Tensor {
        let t = f[name]!
        return Tensor(shape: t.shape, data: t.data, requiresGrad: true)
    }

    func testDenseForwardBackward() {
        let x = input("dense_x")
        let layer = Linear(weight: input("dense_w"), bias: input("dense_b"))
        let y = layer(x, ForwardContext(training: true))
        assertClose(y, f["dense_y"]!, rtol: 1e-4, atol: 1e-4)
        (y * f["dense_gy"]!).sum().backward()
        assertClose(x.grad!, f["dense_gx"]!.data, "gx")
        assertClose(layer.weight.grad!, f["dense_gw"]!.data, "gW")
        assertClose(layer.bias!.grad!, f["dense_gb"]!.data, "gb")
    }

    func checkBatchNorm(_ p: String) {
        for mode in ["train", "eval"] {
            let x = input("\(p)_x")
            let bn = BatchNorm(numFeatures: x.shape[1])
            bn.weight.data = f["\(p)_gamma"]!.data
            bn.bias.data = f["\(p)_beta"]!.data
            bn.runningMean.data = f["\(p)_rm"]!.data
            bn.runningVar.data = f["\(p)_rv"]!.data
            let y = bn(x, ForwardContext(training: mode == "train"))
            assertClose(y, f["\(p)_\(mode)_y"]!, "\(p) \(mode) y")
            (y * f["\(p)_gy"]!).sum().backward()
            assertClose(x.grad!, f["\(p)_\(mode)_gx"]!.data, "\(p) \(mode) gx")
            assertClose(bn.weight.grad!, f["\(p)_\(mode)_ggamma"]!.data, "\(p) \(mode) ggamma")
            assertClose(bn.bias.grad!, f["\(p)_\(mode)_gbeta"]!.data, "\(p) \(mode) gbeta")
            let rm = mode == "train" ? f["\(p)_train_rm"]! : f["\(p)_rm"]!
            let rv = mode == "train" ? f["\(p)_train_rv"]! : f["\(p)_rv"]!
            assertClose(bn.runningMean.data, rm.data, "\(p) \(mode) running_mean")
            assertClose(bn.runningVar.data, rv.data, "\(p) \(mode) running_var")
        }
    }

    func testBatchNormNCHW() { checkBatchNorm("bn4d") }
    func testBatchNormNC() { checkBatchNorm("bn2d") }

    func testSoftmax() {
        let x = f["softmax_x"]!
        assertClose(x.softmax(), f["softmax_y"]!)
        assertClose(x.logSoftmax(), f["log_softmax_y"]!)
    }

    func testSoftmaxCrossEntropy() {
        let logits = input("ce_logits")
        let loss = softmaxCrossEntropy(logits: logits, labels: f["ce_labels"]!)
        assertClose(loss, f["ce_loss"]!)
        loss.backward()
        assertClose(logits.grad!, f["ce_grad"]!.data)
    }

    func testBinaryCrossEntropy() {
        let p = input("bce_p")
        let loss = binaryCrossEntropy(probabilities: p, targets: f["bce_t"]!)
        assertClose(loss, f["bce_loss"]!)
        loss.backward()
        assertClose(p.grad!, f["bce_grad"]!.data)

        let z = input("bcel_z")
        let l2 = binaryCrossEntropy(logits: z, targets: f["bcel_t"]!)
        assertClose(l2, f["bcel_loss"]!)
        l2.backward()
        assertClose(z.grad!, f["bcel_grad"]!.data)
    }

    func testMeanSquaredError() {
        let a = input("mse_a"), b = input("mse_b")
        let loss = meanSquaredError(a, b)
        assertClose(loss, f["mse_loss"]!)
        loss.backward()
        assertClose(a.grad!, f["mse_ga"]!.data)
        assertClose(b.grad!, f["mse_ga"]!.data.map { -$0 })
    }

    func testTripletLoss() {
        let a = input("tri_a"), p = input("tri_p"), n = input("tri_n")
        let loss = tripletLoss(anchor: a, positive: p, negative: n, alpha: f["tri_alpha"]!.scalar)
        assertClose(loss, f["tri_loss"]!)
        loss.backward()
        assertClose(a.grad!, f["tri_ga"]!.data, "anchor")
        assertClose(p.grad!, f["tri_gp"]!.data, "positive")
        assertClose(n.grad!, f["tri_gn"]!.data, "negative")
    }
}
