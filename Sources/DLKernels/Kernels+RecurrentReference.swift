import Foundation

/// Plain versions of the recurrent kernels, in double precision, for the
/// tests that hold the fast ones to them.
extension Kernels {
    /// `recurrentProduct` as a plain loop (all rows), for tests.
    public static func recurrentProductReference(
        h: [Float], batch: Int, w: [Float], bias: [Float]?, inputs: Int, outputs: Int
    ) -> [Float] {
        var out = [Float](repeating: 0, count: batch * outputs)
        for r in 0..<batch {
            for j in 0..<outputs {
                var s = Double(bias?[j] ?? 0)
                for i in 0..<inputs { s += Double(h[r * inputs + i]) * Double(w[j * inputs + i]) }
                out[r * outputs + j] = Float(s)
            }
        }
        return out
    }

    /// `recurrentForward` as plain loops: one direction, x [N, T, I], mask
    /// [N, T] -> y [N, T, H], the formulas as written in `Kernels+Recurrent`.
    public static func recurrentForwardReference(
        _ s: RecurrentShape, x: [Float], wih: [Float], whh: [Float], bih: [Float], bhh: [Float], mask: [Float]
    ) -> [Float] {
        let (n, t, h, gh, inp) = (s.batch, s.steps, s.hidden, s.gh, s.input)
        func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        var y = [Float](repeating: 0, count: n * t * h)
        for b in 0..<n {
            var hPrev = [Double](repeating: 0, count: h), c = [Double](repeating: 0, count: h)
            for step in 0..<t {
                let tt = s.time(step), row = b * t + tt
                guard mask[row] != 0 else { continue }
                // Pre-activations of both products, with their biases.
                var xp = [Double](repeating: 0, count: gh), hp = [Double](repeating: 0, count: gh)
                for j in 0..<gh {
                    xp[j] = Double(bih[j]) + (0..<inp).reduce(0) { $0 + Double(x[row * inp + $1]) * Double(wih[j * inp + $1]) }
                    hp[j] = Double(bhh[j]) + (0..<h).reduce(0) { $0 + hPrev[$1] * Double(whh[j * h + $1]) }
                }
                var hNew = hPrev
                for j in 0..<h {
                    switch s.cell {
                    case .rnn:
                        hNew[j] = Foundation.tanh(xp[j] + hp[j])
                    case .gru:
                        let r = sig(xp[j] + hp[j]), z = sig(xp[h + j] + hp[h + j])
                        let nn = Foundation.tanh(xp[2 * h + j] + r * hp[2 * h + j])
                        hNew[j] = (1 - z) * nn + z * hPrev[j]
                    case .lstm:
                        let i = sig(xp[j] + hp[j]), f = sig(xp[h + j] + hp[h + j])
                        let g = Foundation.tanh(xp[2 * h + j] + hp[2 * h + j]), o = sig(xp[3 * h + j] + hp[3 * h + j])
                        c[j] = f * c[j] + i * g
                        hNew[j] = o * Foundation.tanh(c[j])
                    }
                }
                hPrev = hNew
                for j in 0..<h { y[row * h + j] = Float(hNew[j]) }
            }
        }
        return y
    }
}
