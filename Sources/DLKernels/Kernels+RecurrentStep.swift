import Foundation

/// The inner loop of the recurrent cells, 8 lanes at a time: the product of
/// the state with W_hh, and the gates of one batch row.
///
/// A row's numbers never depend on the other rows of the batch: the product
/// sums every row in the same order whatever the batch size (BLAS blocks and
/// rounds differently for each), and the gates are lane-wise. So a sequence
/// gets the same state padded in a batch as alone, to the last bit.
extension Kernels {
    /// out[r, j] = bias[j] + Σ_k h[r, k] w[j, k] for the listed rows r,
    /// j in 0..<outputs, k in 0..<inputs (rows of `h` and `out` have strides
    /// `ldh` and `ldo`; `w` is [outputs, inputs], PyTorch's W_hh). Rows not
    /// listed are left alone. The state-to-gates product of one step: at
    /// batch 1 it reads W_hh in place (BLAS would copy and repack it on every
    /// call, which costs as much as the product).
    public static func recurrentProduct(
        h: UnsafePointer<Float>, ldh: Int, rows: UnsafePointer<Int>, rowCount: Int,
        w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, inputs: Int, outputs: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        let k = inputs, body = k & ~7, tail = k - body
        // Σ over k in lanes (lane l sums k ≡ l mod 8, in order), then across lanes.
        @inline(__always) func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> V {
            var acc = V(repeating: 0)
            var i = 0
            while i < body { acc = acc.addingProduct(Lanes.load(a, i), Lanes.load(b, i)); i += 8 }
            if tail > 0 { acc = acc.addingProduct(Lanes.loadTail(a, body, tail, fill: 0), Lanes.loadTail(b, body, tail, fill: 0)) }
            return acc
        }
        @inline(__always) func finish(_ acc: V, _ j: Int) -> Float {
            Lanes.sum(acc) + (bias?[j] ?? 0)
        }
        var p = 0
        // Two rows by four outputs: each W_hh row is loaded once for both rows.
        while p + 2 <= rowCount {
            let r0 = rows[p], r1 = rows[p + 1]
            let h0 = h + r0 * ldh, h1 = h + r1 * ldh
            let o0 = out + r0 * ldo, o1 = out + r1 * ldo
            var j = 0
            while j + 4 <= outputs {
                let w0 = w + j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
                var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0
                var i = 0
                while i < body {
                    let x0 = Lanes.load(h0, i), x1 = Lanes.load(h1, i)
                    let v0 = Lanes.load(w0, i), v1 = Lanes.load(w1, i), v2 = Lanes.load(w2, i), v3 = Lanes.load(w3, i)
                    a0 = a0.addingProduct(x0, v0); a1 = a1.addingProduct(x0, v1)
                    a2 = a2.addingProduct(x0, v2); a3 = a3.addingProduct(x0, v3)
                    b0 = b0.addingProduct(x1, v0); b1 = b1.addingProduct(x1, v1)
                    b2 = b2.addingProduct(x1, v2); b3 = b3.addingProduct(x1, v3)
                    i += 8
                }
                if tail > 0 {
                    let x0 = Lanes.loadTail(h0, body, tail, fill: 0), x1 = Lanes.loadTail(h1, body, tail, fill: 0)
                    let v0 = Lanes.loadTail(w0, body, tail, fill: 0), v1 = Lanes.loadTail(w1, body, tail, fill: 0)
                    let v2 = Lanes.loadTail(w2, body, tail, fill: 0), v3 = Lanes.loadTail(w3, body, tail, fill: 0)
                    a0 = a0.addingProduct(x0, v0); a1 = a1.addingProduct(x0, v1)
                    a2 = a2.addingProduct(x0, v2); a3 = a3.addingProduct(x0, v3)
                    b0 = b0.addingProduct(x1, v0); b1 = b1.addingProduct(x1, v1)
                    b2 = b2.addingProduct(x1, v2); b3 = b3.addingProduct(x1, v3)
                }
                o0[j] = finish(a0, j); o0[j + 1] = finish(a1, j + 1); o0[j + 2] = finish(a2, j + 2); o0[j + 3] = finish(a3, j + 3)
                o1[j] = finish(b0, j); o1[j + 1] = finish(b1, j + 1); o1[j + 2] = finish(b2, j + 2); o1[j + 3] = finish(b3, j + 3)
                j += 4
            }
            while j < outputs {
                o0[j] = finish(dot(h0, w + j * k), j)
                o1[j] = finish(dot(h1, w + j * k), j)
                j += 1
            }
            p += 2
        }
        // A last odd row, one by four.
        if p < rowCount {
            let r0 = rows[p]
            let h0 = h + r0 * ldh, o0 = out + r0 * ldo
            var j = 0
            while j + 4 <= outputs {
                let w0 = w + j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
                var a0 = V(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                var i = 0
                while i < body {
                    let x0 = Lanes.load(h0, i)
                    a0 = a0.addingProduct(x0, Lanes.load(w0, i)); a1 = a1.addingProduct(x0, Lanes.load(w1, i))
                    a2 = a2.addingProduct(x0, Lanes.load(w2, i)); a3 = a3.addingProduct(x0, Lanes.load(w3, i))
                    i += 8
                }
                if tail > 0 {
                    let x0 = Lanes.loadTail(h0, body, tail, fill: 0)
                    a0 = a0.addingProduct(x0, Lanes.loadTail(w0, body, tail, fill: 0))
                    a1 = a1.addingProduct(x0, Lanes.loadTail(w1, body, tail, fill: 0))
                    a2 = a2.addingProduct(x0, Lanes.loadTail(w2, body, tail, fill: 0))
                    a3 = a3.addingProduct(x0, Lanes.loadTail(w3, body, tail, fill: 0))
                }
                o0[j] = finish(a0, j); o0[j + 1] = finish(a1, j + 1); o0[j + 2] = finish(a2, j + 2); o0[j + 3] = finish(a3, j + 3)
                j += 4
            }
            while j < outputs { o0[j] = finish(dot(h0, w + j * k), j); j += 1 }
        }
    }

    /// One row of a step, the gates computed in place of the pre-activations:
    /// `xr` [G*H] holds W_ih x + biases (for the GRU's r and z also b_hh; see
    /// `recurrentForward`), `hr` [G*H] W_hh h (+ b_hn for the GRU's n gate,
    /// else nothing); writes h' to `hq` (and c' to `cq`) from `hp` (`cp`).
    /// `hq` may be `hp` (and `cq` `cp`). With `keepGates`, the gate values
    /// (RNN: h'; GRU: r, z, n; LSTM: i, f, g, o) overwrite `xr`, as the
    /// training cache keeps them.
    @inline(__always)
    static func recurrentGates(
        _ cell: RecurrentCell, hidden h: Int, xr: UnsafeMutablePointer<Float>, hr: UnsafePointer<Float>,
        hp: UnsafePointer<Float>, hq: UnsafeMutablePointer<Float>,
        cp: UnsafePointer<Float>?, cq: UnsafeMutablePointer<Float>?, keepGates: Bool
    ) {
        var j = 0
        while j < h {
            let c = Swift.min(8, h - j)
            @inline(__always) func ld(_ p: UnsafePointer<Float>, _ i: Int) -> V {
                c == 8 ? Lanes.load(p, i) : Lanes.loadTail(p, i, c, fill: 0)
            }
            @inline(__always) func st(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
                if c == 8 { Lanes.store(v, p, i) } else { Lanes.storeTail(v, p, i, c) }
            }
            let x = UnsafePointer(xr)
            switch cell {
            case .rnn:
                let a = tanhLanes(ld(x, j) + ld(hr, j))
                if keepGates { st(a, xr, j) }
                st(a, hq, j)
            case .gru:
                let r = sigmoidLanes(ld(x, j) + ld(hr, j))
                let z = sigmoidLanes(ld(x, h + j) + ld(hr, h + j))
                let n = tanhLanes(ld(x, 2 * h + j) + r * ld(hr, 2 * h + j))
                if keepGates { st(r, xr, j); st(z, xr, h + j); st(n, xr, 2 * h + j) }
                st((V(repeating: 1) - z) * n + z * ld(hp, j), hq, j)
            case .lstm:
                let i = sigmoidLanes(ld(x, j) + ld(hr, j))
                let f = sigmoidLanes(ld(x, h + j) + ld(hr, h + j))
                let g = tanhLanes(ld(x, 2 * h + j) + ld(hr, 2 * h + j))
                let o = sigmoidLanes(ld(x, 3 * h + j) + ld(hr, 3 * h + j))
                if keepGates { st(i, xr, j); st(f, xr, h + j); st(g, xr, 2 * h + j); st(o, xr, 3 * h + j) }
                let cNew = f * ld(cp!, j) + i * g
                st(cNew, cq!, j)
                st(o * tanhLanes(cNew), hq, j)
            }
            j += 8
        }
    }
}

extension Kernels {
    /// One time step of one direction for `n` rows, the same arithmetic as a
    /// step of `recurrentForward` (biases folded alike, `recurrentProduct`,
    /// then the gates): for an incremental decoder that carries the state
    /// from one call to the next. x [n, I]; `keep` [n] (1 = a real step, 0 =
    /// padding: the row's state stays and its output is 0); `state` [n, H]
    /// and, for an LSTM, `cellState` [n, H] are read and advanced in place;
    /// y [n, H] receives the new hidden state.
    public static func recurrentStep(
        _ cell: RecurrentCell, batch n: Int, input: Int, hidden h: Int, x: UnsafePointer<Float>,
        wih: UnsafePointer<Float>, whh: UnsafePointer<Float>, bih: UnsafePointer<Float>, bhh: UnsafePointer<Float>,
        keep: UnsafePointer<Float>, state: UnsafeMutablePointer<Float>, cellState: UnsafeMutablePointer<Float>?,
        y: UnsafeMutablePointer<Float>
    ) {
        precondition(cell != .lstm || cellState != nil, "recurrentStep: an LSTM needs a cell state")
        if n == 0 { return }
        let gh = cell.gates * h
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * gh + 2 * n * gh)
        let rows = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer { scratch.deallocate(); rows.deallocate() }
        let inBias = scratch, stepBias = scratch + gh, xw = scratch + 2 * gh, hw = xw + n * gh
        let folded = cell == .gru ? 2 * h : gh
        for j in 0..<gh {
            inBias[j] = bih[j] + (j < folded ? bhh[j] : 0)
            stepBias[j] = j < folded ? 0 : bhh[j]
        }
        gemm(transA: false, transB: true, m: n, n: gh, k: input, a: x, lda: input, b: wih, ldb: input, c: xw, ldc: gh)
        var active = 0
        for b in 0..<n {
            if keep[b] != 0 {
                rows[active] = b
                active += 1
                accumulate(inBias, into: xw + b * gh, gh)
            } else {
                (y + b * h).update(repeating: 0, count: h)
            }
        }
        recurrentProduct(h: state, ldh: h, rows: rows, rowCount: active, w: whh,
                         bias: cell == .gru ? stepBias : nil, inputs: h, outputs: gh, out: hw, ldo: gh)
        for a in 0..<active {
            let b = rows[a], hq = state + b * h
            recurrentGates(cell, hidden: h, xr: xw + b * gh, hr: hw + b * gh, hp: hq, hq: hq,
                           cp: cellState.map { UnsafePointer($0 + b * h) }, cq: cellState.map { $0 + b * h }, keepGates: false)
            (y + b * h).update(from: hq, count: h)
        }
    }
}
