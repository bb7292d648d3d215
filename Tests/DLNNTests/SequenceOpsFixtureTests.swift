import DLKernels
import DLNN
import DLTensor
import DLTesting
import XCTest

/// The sequence ops against PyTorch 2.13 (`torch.where`, `masked_fill`,
/// `torch.max(dim)`, `@` with transposes, `F.embedding` with padding_idx,
/// `F.cross_entropy` with ignore_index and label_smoothing, masked softmax),
/// from scripts/fixtures/seqops_fixtures.py: outputs and gradients within 1e-4.
final class SequenceOpsFixtureTests: XCTestCase {
    var f: [String: Tensor] = [:]

    override func setUpWithError() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "seqops", withExtension: "json", subdirectory: "Fixtures"))
        f = try loadFixtures(url)
    }

    /// The fixture tensor `name`, as a leaf that records gradients when asked.
    func t(_ name: String, grad: Bool = false) throws -> Tensor {
        let x = try XCTUnwrap(f[name], name)
        return Tensor(shape: x.shape, data: x.data, requiresGrad: grad)
    }

    func grad(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.grad ?? []) }

    func testWhere() throws {
        let a = try t("where_a", grad: true), b = try t("where_b", grad: true)
        let y = Tensor.where(try t("where_cond"), a, b)
        assertClose(y, try t("where_y"))
        (y * (try t("where_gy"))).sum().backward()
        assertClose(grad(a), try t("where_ga"))
        assertClose(grad(b), try t("where_gb"))
    }

    func testMaskedFill() throws {
        let x = try t("fill_x", grad: true)
        let y = x.maskedFill(try t("fill_mask"), -2.5)
        assertClose(y, try t("fill_y"))
        (y * (try t("fill_gy"))).sum().backward()
        assertClose(grad(x), try t("fill_gx"))
    }

    func testMaxWithTies() throws {
        for (p, axis, keep) in [("max_d1", 1, true), ("max_last", -1, false)] {
            let x = try t("\(p)_x", grad: true)
            let y = x.max(axis: axis, keepDims: keep)
            assertClose(y, try t("\(p)_y"), p)
            assertClose(x.argmax(axis: axis, keepDims: keep), try t("\(p)_idx"), p)
            (y * (try t("\(p)_gy"))).sum().backward()
            assertClose(grad(x), try t("\(p)_gx"), p)
        }
    }

    func testBatchedMatmulEveryFlag() throws {
        for p in ["bmm_00", "bmm_01", "bmm_10", "bmm_11", "bmm3"] {
            let a = try t("\(p)_a", grad: true), b = try t("\(p)_b", grad: true)
            let (ta, tb) = p == "bmm3" ? (false, false) : (p.hasSuffix("10") || p.hasSuffix("11"), p.hasSuffix("1"))
            let y = a.matmul(b, transposeA: ta, transposeB: tb)
            assertClose(y, try t("\(p)_y"), p)
            (y * (try t("\(p)_gy"))).sum().backward()
            assertClose(grad(a), try t("\(p)_ga"), p)
            assertClose(grad(b), try t("\(p)_gb"), p)
        }
    }

    func testEmbeddingWithPaddingIndex() throws {
        let w = try t("emb_w", grad: true)
        let y = Tensor.embedding(try t("emb_ids"), weight: w, paddingIndex: 1)
        assertClose(y, try t("emb_y"))
        (y * (try t("emb_gy"))).sum().backward()
        assertClose(grad(w), try t("emb_gw"))
    }

    func testSequenceCrossEntropy() throws {
        let cases: [(String, Int?, Float)] = [("ce_pad", 0, 0), ("ce_smooth", 0, 0.1), ("ce_default", -100, 0.2), ("ce_mask", nil, 0)]
        for (p, ignore, smoothing) in cases {
            let logits = try t("\(p)_logits", grad: true)
            let mask = f["\(p)_mask"]
            let loss = sequenceCrossEntropy(logits: logits, targets: try t("\(p)_targets"), ignoreIndex: ignore,
                                            mask: mask, labelSmoothing: smoothing)
            assertClose(loss, try t("\(p)_loss"), p)
            loss.backward()
            assertClose(grad(logits), try t("\(p)_glogits"), p)
        }
    }

    func testMaskedSoftmax() throws {
        let x = try t("msm_x", grad: true)
        let y = x.maskedSoftmax(try t("msm_keep"))
        assertClose(y, try t("msm_y"))
        (y * (try t("msm_gy"))).sum().backward()
        assertClose(grad(x), try t("msm_gx"))
    }
}
