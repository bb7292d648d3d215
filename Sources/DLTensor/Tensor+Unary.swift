import DLKernels
import Foundation

/// Elementwise functions with their derivatives.
extension Tensor {
    /// Applies y = f(x) with derivative dy/dx = df(x, y).
    public func unary(
        _ name: String, _ f: (Float) -> Float, derivative df: @escaping (_ x: Float, _ y: Float) -> Float
    ) -> Tensor {
        let x = self
        let y = data.map(f)
        return Tensor.make(name, shape: shape, data: y, inputs: [x]) { g in
            var gx = [Float](repeating: 0, count: g.count)
            for i in 0..<g.count { gx[i] = g[i] * df(x.data[i], y[i]) }
            x.accumulateGrad(gx)
        }
    }

    public func exp() -> Tensor { unary("exp", { Foundation.exp($0) }, derivative: { _, y in y }) }
    public func log() -> Tensor { unary("log", { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unary("sqrt", { Foundation.sqrt($0) }, derivative: { _, y in 0.5 / y }) }
    public func squared() -> Tensor { unary("square", { $0 * $0 }, derivative: { x, _ in 2 * x }) }
    public func pow(_ p: Float) -> Tensor {
        unary("pow", { Foundation.pow($0, p) }, derivative: { x, _ in p * Foundation.pow(x, p - 1) })
    }
    public func abs() -> Tensor { unary("abs", { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    /// GELU (Hendrycks & Gimpel, 2016), exact form as PyTorch's
    /// `F.gelu(approximate='none')`: x Phi(x) = x (1 + erf(x / sqrt 2)) / 2.
    /// dy/dx = Phi(x) + x phi(x), phi the standard normal density.
    public func gelu() -> Tensor {
        unary("gelu", { 0.5 * $0 * (1 + Foundation.erf($0 * 0.70710678118654752)) }, derivative: { x, _ in
            0.5 * (1 + Foundation.erf(x * 0.70710678118654752)) + x * 0.39894228040143268 * Foundation.exp(-0.5 * x * x)
        })
    }
    /// max(x, c) elementwise; the gradient flows where x > c.
    public func clampedMin(_ c: Float) -> Tensor {
        unary("clamp_min", { Swift.max($0, c) }, derivative: { x, _ in x > c ? 1 : 0 })
    }
}
