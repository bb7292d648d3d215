/// Finite-difference gradient checking: compares the autodiff gradient of a
/// scalar function with central differences, as the relative error
/// ||g - g_num|| / (||g|| + ||g_num||).
public enum GradientCheck {
    public struct Result: CustomStringConvertible {
        public let relativeError: Double
        public let worstIndex: Int
        public let analytic: [Double]
        public let numeric: [Double]
        public var description: String { "relative error \(relativeError) (worst at \(worstIndex))" }
    }

    /// Checks d f / d input for one input tensor. `f` must rebuild the graph
    /// from `input` each call and return a scalar. Central differences are in
    /// Double from Float evaluations, so keep epsilon near 1e-2..1e-3.
    public static func check(
        _ input: Tensor, epsilon: Float = 1e-2, maxElements: Int = 64, _ f: () -> Tensor
    ) -> Result {
        input.requiresGrad = true
        input.grad = nil
        let out = f()
        out.backward()
        let analyticAll = (input.grad ?? [Float](repeating: 0, count: input.count)).map(Double.init)
        input.grad = nil
        let stride = Swift.max(1, input.count / maxElements)
        let idx = Array(Swift.stride(from: 0, to: input.count, by: stride))
        var analytic: [Double] = [], numeric: [Double] = []
        for i in idx {
            let orig = input.data[i]
            input.data[i] = orig + epsilon
            let fp = GradMode.withoutGrad { Double(f().scalar) }
            input.data[i] = orig - epsilon
            let fm = GradMode.withoutGrad { Double(f().scalar) }
            input.data[i] = orig
            numeric.append((fp - fm) / (2 * Double(epsilon)))
            analytic.append(analyticAll[i])
        }
        var diff = 0.0, na = 0.0, nn = 0.0, worst = 0, worstVal = -1.0
        for j in 0..<idx.count {
            let d = analytic[j] - numeric[j]
            diff += d * d; na += analytic[j] * analytic[j]; nn += numeric[j] * numeric[j]
            if Swift.abs(d) > worstVal { worstVal = Swift.abs(d); worst = idx[j] }
        }
        let denom = na.squareRoot() + nn.squareRoot()
        return Result(relativeError: denom == 0 ? 0 : diff.squareRoot() / denom,
                      worstIndex: worst, analytic: analytic, numeric: numeric)
    }
}
