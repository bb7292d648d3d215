import DLKernels
import Foundation

/// The negative-sampling loss of one (centre, context) pair with k noise
/// words (Mikolov et al. 2013, eq. 4; the course's k + 1 logistic units):
///
///     L = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)
///
/// v_c is the centre word's input vector (a row of E), u_o the context
/// word's output vector (a row of θ), u_k the noise words' output vectors.
/// With s_o = σ(u_o·v_c) and s_k = σ(u_k·v_c):
///
///     dL/dv_c = (s_o - 1) u_o + Σ_k s_k u_k
///     dL/du_o = (s_o - 1) v_c
///     dL/du_k = s_k v_c
///
/// (d/dx -log σ(x) = σ(x) - 1, d/dx -log σ(-x) = σ(x)). A noise word drawn
/// twice contributes twice. `forward` is the fast path on raw rows; the
/// `reference` in Double is what the gradient check compares it with.
public enum SkipGramLoss {
    /// -log σ(x), computed without overflow for large |x|.
    @inlinable
    static func negLogSigmoid(_ x: Float) -> Float {
        x >= 0 ? log1p(exp(-x)) : -x + log1p(exp(x))
    }

    @inlinable
    static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }

    /// The loss of one pair; writes dL/dv_c into `gradCenter` [dim], and
    /// dL/du for the context (index 0) and each noise word (1...k) into
    /// `gradOutputs` [(k + 1) * dim]. `outputs[0]` is u_o, `outputs[1...]` the u_k.
    public static func forward(center: UnsafePointer<Float>, outputs: [UnsafePointer<Float>], dim: Int,
                               gradCenter: UnsafeMutablePointer<Float>, gradOutputs: UnsafeMutablePointer<Float>) -> Float {
        precondition(!outputs.isEmpty, "SkipGramLoss.forward: no context vector")
        gradCenter.update(repeating: 0, count: dim)
        var loss: Float = 0
        for (j, u) in outputs.enumerated() {
            let x = Kernels.dot(u, center, dim)
            // Label 1 for the context word, 0 for noise: dL/dx = σ(x) - label.
            let label: Float = j == 0 ? 1 : 0
            loss += j == 0 ? negLogSigmoid(x) : negLogSigmoid(-x)
            let g = sigmoid(x) - label
            Kernels.axpy(g, u, gradCenter, dim)
            let gu = gradOutputs + j * dim
            gu.update(repeating: 0, count: dim)
            Kernels.axpy(g, center, gu, dim)
        }
        return loss
    }

    /// The same loss in Double on arrays (plain loops), for tests.
    public static func reference(center: [Double], context: [Double], noise: [[Double]]) -> Double {
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        func logSigmoid(_ x: Double) -> Double { x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)) }
        return -logSigmoid(dot(context, center)) - noise.reduce(0) { $0 + logSigmoid(-dot($1, center)) }
    }
}
