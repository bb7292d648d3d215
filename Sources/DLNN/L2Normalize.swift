import DLTensor

/// Scales each example's vector to unit Euclidean length (attr `eps`,
/// default 1e-12: x / max(|x|, eps)), as a face embedding's last layer
/// (Schroff et al., 2015): distances between outputs are then in [0, 4]
/// squared. [D] -> [D]. No parameters.
public final class L2Normalize: UnaryLayer {
    public let eps: Float
    let label: String

    public init(eps: Float = 1e-12, label: String = "L2Normalize") {
        precondition(eps.isFinite && eps > 0, "L2Normalize: eps must be > 0, got \(eps)")
        (self.eps, self.label) = (eps, label)
    }

    /// From a model.json node of type l2_normalize.
    public convenience init(spec: LayerSpec) throws {
        let eps = try spec.float("eps", default: 1e-12)
        guard eps.isFinite, eps > 0 else { throw ModelError.architecture("l2_normalize '\(spec.name)': eps must be > 0 (got \(eps))") }
        self.init(eps: eps, label: "l2_normalize '\(spec.name)'")
    }

    /// [D] -> [D].
    public func outputShape(_ s: [Int]) throws -> [Int] {
        guard s.count == 1, s[0] > 0 else { throw ModelError.shape("\(label): expects a flat input [D], got \(s); add a flatten or dense layer before it") }
        return s
    }

    /// x [N, D] -> [N, D], rows of unit length.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor { x.l2Normalized(eps: eps) }
}
