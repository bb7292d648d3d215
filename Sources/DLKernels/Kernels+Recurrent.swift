import Foundation

/// Recurrent cells over a padded batch, one direction of one layer at a time,
/// with PyTorch's gate order (RNN: tanh; GRU: r, z, n; LSTM: i, f, g, o):
///
///     RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
///     GRU   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r * h_n), h' = (1 - z) n + z h
///           (x_* = W_i* x + b_i*, h_* = W_h* h + b_h*: the reset gate scales h_n after its bias)
///     LSTM  i, f, o = σ(x_* + h_*), g = tanh(x_g + h_g), c' = f c + i g, h' = o tanh(c')
///
/// Sequences are padded at the end; `mask[n*T + t]` is 1 for real steps. A
/// padded step keeps the state and writes 0 to the output, so the reverse
/// direction of every sequence starts at its own last real step and a padded
/// batch gives each sequence the numbers it gets alone (as PyTorch's packed
/// sequences do). The input projection of all steps is one product; each step
/// is one [N, H] x [H, G*H] product (`recurrentProduct`) plus the gates.
extension Kernels {
    public enum RecurrentCell: String, Sendable, CaseIterable {
        case rnn, gru, lstm
        /// Gate blocks per step: rows of W_ih / W_hh are gates * hidden.
        public var gates: Int {
            switch self {
            case .rnn: return 1
            case .gru: return 3
            case .lstm: return 4
            }
        }
    }

    /// Shape of one direction of one layer.
    public struct RecurrentShape: Sendable {
        public var cell: RecurrentCell
        public var batch: Int, steps: Int, input: Int, hidden: Int
        public var reverse: Bool
        public init(cell: RecurrentCell, batch: Int, steps: Int, input: Int, hidden: Int, reverse: Bool) {
            self.cell = cell; self.batch = batch; self.steps = steps
            self.input = input; self.hidden = hidden; self.reverse = reverse
        }
        var gh: Int { cell.gates * hidden }
        @inline(__always) func time(_ s: Int) -> Int { reverse ? steps - 1 - s : s }
        /// Floats the training cache needs (`recurrentForward`'s `cache`).
        public var cacheCount: Int {
            let n = batch, h = hidden, t = steps
            var c = n * t * gh            // input projections, then gate values
            c += (t + 1) * n * h          // states before each step and after the last
            if cell == .lstm { c += (t + 1) * n * h }   // cell states
            if cell == .gru { c += t * n * h }          // W_hn h + b_hn
            return c
        }
    }

    /// Runs one direction. x [N, T, I] (row stride `ldx`), y [N, T, ...] with
    /// row stride `ldy`, written at column `yOffset` for `hidden` columns.
    /// `cache`, when given (training), receives what `recurrentBackward` reads.
    ///
    /// Memory is taken once per call (inference: the projections, one state
    /// and one step's product; nothing per step). The input projection of all
    /// steps is one BLAS product (inference: of the real steps only, the
    /// padding left out), with b_ih and the part of b_hh that adds straight
    /// to it (all but the GRU's b_hn, which the reset gate scales) folded in;
    /// each step is one `recurrentProduct` over the rows still inside their
    /// sequence, then the gates 8 lanes at a time.
    public static func recurrentForward(
        _ s: RecurrentShape, x: UnsafePointer<Float>, ldx: Int,
        wih: UnsafePointer<Float>, whh: UnsafePointer<Float>, bih: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
        mask: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int, yOffset: Int,
        cache: UnsafeMutablePointer<Float>?
    ) {
        let (n, t, h, gh) = (s.batch, s.steps, s.hidden, s.gh)
        if n == 0 || t == 0 { return }
        let lstm = s.cell == .lstm
        // Scratch: the two bias rows and one step's product, plus for
        // inference the projections and the state (cell state for an LSTM).
        // Inference projects only the real steps (`real` of them, gathered
        // into `xc`); `slot[n*T + t]` is the row of step t's projection in xw.
        var real = n * t
        if cache == nil { real = 0; for p in 0..<(n * t) where mask[p] != 0 { real += 1 } }
        let compact = real < n * t
        let own = 2 * gh + n * gh + (cache == nil ? real * gh + (lstm ? 2 : 1) * n * h : 0) + (compact ? real * s.input : 0)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, own))
        let rows = UnsafeMutablePointer<Int>.allocate(capacity: n + n * t)
        defer { scratch.deallocate(); rows.deallocate() }
        let slot = rows + n
        let inBias = scratch, stepBias = scratch + gh, hw = scratch + 2 * gh
        let xw: UnsafeMutablePointer<Float>
        var hs: UnsafeMutablePointer<Float>, cs: UnsafeMutablePointer<Float>?
        var hn: UnsafeMutablePointer<Float>? = nil
        var stateStride = 0   // cache: states advance one [N, H] block per step; scratch: stay in place
        if let cache {
            xw = cache   // gate values overwrite the consumed projections in place
            hs = cache + n * t * gh
            var p = hs + (t + 1) * n * h
            if lstm { cs = p; p += (t + 1) * n * h } else { cs = nil }
            hn = s.cell == .gru ? p : nil
            stateStride = n * h
        } else {
            xw = hw + n * gh
            hs = xw + real * gh
            cs = lstm ? hs + n * h : nil
        }
        let folded = s.cell == .gru ? 2 * h : gh
        for j in 0..<gh {
            inBias[j] = bih[j] + (j < folded ? bhh[j] : 0)
            stepBias[j] = j < folded ? 0 : bhh[j]
        }
        // All input projections at once: xw[slot[n*T + t]] = W_ih x + biases.
        if compact {
            let xc = hs + (lstm ? 2 : 1) * n * h
            var k = 0
            for p in 0..<(n * t) where mask[p] != 0 {
                (xc + k * s.input).update(from: x + p * ldx, count: s.input)
                slot[p] = k
                k += 1
            }
            gemm(transA: false, transB: true, m: real, n: gh, k: s.input, a: xc, lda: s.input, b: wih, ldb: s.input,
                 c: xw, ldc: gh)
        } else {
            for p in 0..<(n * t) { slot[p] = p }
            gemm(transA: false, transB: true, m: n * t, n: gh, k: s.input, a: x, lda: ldx, b: wih, ldb: s.input,
                 c: xw, ldc: gh)
        }
        for r in 0..<real { accumulate(inBias, into: xw + r * gh, gh) }
        hs.initialize(repeating: 0, count: n * h)
        cs?.initialize(repeating: 0, count: n * h)
        for step in 0..<t {
            let tt = s.time(step)
            let hPrev = hs, cPrev = cs
            let hNext = hs + stateStride, cNext = cs.map { $0 + stateStride }
            // The rows inside their sequence at this step; the others keep their state and output 0.
            var active = 0
            for b in 0..<n {
                if mask[b * t + tt] != 0 {
                    rows[active] = b
                    active += 1
                } else {
                    (y + (b * t + tt) * ldy + yOffset).update(repeating: 0, count: h)
                    if stateStride != 0 {
                        (hNext + b * h).update(from: hPrev + b * h, count: h)
                        if let cPrev, let cNext { (cNext + b * h).update(from: cPrev + b * h, count: h) }
                    }
                }
            }
            // hw = h W_hh^T (+ b_hn for the GRU)
            recurrentProduct(h: hPrev, ldh: h, rows: rows, rowCount: active, w: whh,
                             bias: s.cell == .gru ? stepBias : nil, inputs: h, outputs: gh, out: hw, ldo: gh)
            for a in 0..<active {
                let b = rows[a], row = b * t + tt
                let hr = hw + b * gh, hq = hNext + b * h
                if let hn { (hn + (step * n + b) * h).update(from: hr + 2 * h, count: h) }
                recurrentGates(s.cell, hidden: h, xr: xw + slot[row] * gh, hr: hr, hp: hPrev + b * h, hq: hq,
                               cp: cPrev.map { $0 + b * h }, cq: cNext.map { $0 + b * h }, keepGates: cache != nil)
                (y + row * ldy + yOffset).update(from: hq, count: h)
            }
            hs = hNext
            if let c = cNext { cs = c }
        }
    }

    /// Backward through one direction, from the cache its forward filled.
    /// gy [N, T, ...] (row stride `ldy`, columns from `yOffset`) is the
    /// gradient of the outputs. Accumulates into gx [N, T, I] (stride `ldx`)
    /// and the four parameter gradients.
    public static func recurrentBackward(
        _ s: RecurrentShape, x: UnsafePointer<Float>, ldx: Int,
        wih: UnsafePointer<Float>, whh: UnsafePointer<Float>,
        mask: UnsafePointer<Float>, cache: UnsafePointer<Float>,
        gy: UnsafePointer<Float>, ldy: Int, yOffset: Int,
        gx: UnsafeMutablePointer<Float>?, gwih: UnsafeMutablePointer<Float>, gwhh: UnsafeMutablePointer<Float>,
        gbih: UnsafeMutablePointer<Float>, gbhh: UnsafeMutablePointer<Float>
    ) {
        let (n, t, h, gh) = (s.batch, s.steps, s.hidden, s.gh)
        if n == 0 || t == 0 { return }
        let gates = cache
        let hs = cache + n * t * gh
        var p = hs + (t + 1) * n * h
        var cs: UnsafePointer<Float>? = nil
        if s.cell == .lstm { cs = p; p += (t + 1) * n * h }
        let hn: UnsafePointer<Float>? = s.cell == .gru ? p : nil

        let work = UnsafeMutablePointer<Float>.allocate(capacity: n * t * gh + n * gh + 3 * n * h)
        defer { work.deallocate() }
        let dxw = work                    // [N*T, G*H]: gradient of the input projections
        let dhw = work + n * t * gh       // [N, G*H]: of this step's hidden projection
        let dh = dhw + n * gh             // [N, H] carried state gradient
        let dc = dh + n * h               // [N, H] carried cell gradient (LSTM)
        let dhNext = dc + n * h
        dxw.initialize(repeating: 0, count: n * t * gh)
        dh.initialize(repeating: 0, count: 2 * n * h)

        for step in stride(from: t - 1, through: 0, by: -1) {
            let tt = s.time(step)
            let hPrev = hs + step * n * h
            for b in 0..<n {
                let row = b * t + tt
                let dhr = dhw + b * gh
                let dhb = dh + b * h, dnb = dhNext + b * h
                guard mask[row] != 0 else {
                    // A padded step passed the state through.
                    dhr.update(repeating: 0, count: gh)
                    dnb.update(from: dhb, count: h)
                    continue
                }
                let g = gates + row * gh, dxr = dxw + row * gh
                let gyr = gy + row * ldy + yOffset
                let hp = hPrev + b * h
                switch s.cell {
                case .rnn:
                    for j in 0..<h {
                        let a = g[j], d = (dhb[j] + gyr[j]) * (1 - a * a)
                        dxr[j] = d; dhr[j] = d; dnb[j] = 0
                    }
                case .gru:
                    let hnr = hn! + (step * n + b) * h
                    for j in 0..<h {
                        let r = g[j], z = g[h + j], nn = g[2 * h + j]
                        let d = dhb[j] + gyr[j]
                        let dnPre = d * (1 - z) * (1 - nn * nn)
                        let dzPre = d * (hp[j] - nn) * z * (1 - z)
                        let drPre = dnPre * hnr[j] * r * (1 - r)
                        dxr[j] = drPre; dxr[h + j] = dzPre; dxr[2 * h + j] = dnPre
                        dhr[j] = drPre; dhr[h + j] = dzPre; dhr[2 * h + j] = dnPre * r
                        dnb[j] = d * z
                    }
                case .lstm:
                    let cp = cs! + step * n * h + b * h, cq = cs! + (step + 1) * n * h + b * h
                    let dcb = dc + b * h
                    for j in 0..<h {
                        let i = g[j], f = g[h + j], gg = g[2 * h + j], o = g[3 * h + j]
                        let d = dhb[j] + gyr[j]
                        let tc = Foundation.tanh(cq[j])
                        let dcTot = dcb[j] + d * o * (1 - tc * tc)
                        let di = dcTot * gg * i * (1 - i)
                        let df = dcTot * cp[j] * f * (1 - f)
                        let dg = dcTot * i * (1 - gg * gg)
                        let dO = d * tc * o * (1 - o)
                        dxr[j] = di; dxr[h + j] = df; dxr[2 * h + j] = dg; dxr[3 * h + j] = dO
                        dhr[j] = di; dhr[h + j] = df; dhr[2 * h + j] = dg; dhr[3 * h + j] = dO
                        dcb[j] = dcTot * f
                        dnb[j] = 0
                    }
                }
            }
            // dh_prev = direct part + dhw W_hh; dW_hh += dhw^T h_prev; db_hh += Σ dhw.
            gemm(transA: false, transB: false, m: n, n: h, k: gh, a: dhw, lda: gh, b: whh, ldb: h,
                 beta: 1, c: dhNext, ldc: h)
            gemm(transA: true, transB: false, m: gh, n: h, k: n, a: dhw, lda: gh, b: hPrev, ldb: h,
                 beta: 1, c: gwhh, ldc: h)
            for b in 0..<n { accumulate(dhw + b * gh, into: gbhh, gh) }
            dh.update(from: dhNext, count: n * h)
        }
        // dW_ih += dxw^T x; db_ih += Σ dxw; gx += dxw W_ih.
        gemm(transA: true, transB: false, m: gh, n: s.input, k: n * t, a: dxw, lda: gh, b: x, ldb: ldx,
             beta: 1, c: gwih, ldc: s.input)
        for r in 0..<(n * t) { accumulate(dxw + r * gh, into: gbih, gh) }
        if let gx {
            gemm(transA: false, transB: false, m: n * t, n: s.input, k: gh, a: dxw, lda: gh, b: wih, ldb: s.input,
                 beta: 1, c: gx, ldc: ldx)
        }
    }
}
