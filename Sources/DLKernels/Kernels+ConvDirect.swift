/// Direct 3x3 convolution (stride 1 or 2) for the layers Winograd does not
/// take: few input channels (a network's stem) or stride 2. No im2col: the
/// image is copied once, padded and split into its stride's column phases
/// so that the outputs of a row read consecutive inputs; a micro-kernel then
/// keeps 4 output channels x 16 outputs (or 8 x 8) in registers over all
/// C * 9 filter taps, with the filters packed by `directFilters` (a plan
/// does it once) as w[o / 8][c * 9 + tap][o % 8].
extension Kernels {
    public static func directConvApplies(_ g: ConvGeometry, outChannels: Int, groups: Int) -> Bool {
        groups == 1 && g.kernelH == 3 && g.kernelW == 3 && g.strideH == g.strideW && (1...2).contains(g.strideH)
            && outChannels % winogradRowBlock == 0 && !winogradApplies(g, outChannels: outChannels, groups: groups)
    }

    /// w[o / 8][t][o % 8] = weight[o, t] for the taps t = (c, ky, kx).
    static func directFilters(_ weight: UnsafePointer<Float>, outChannels: Int, taps: Int, _ w: UnsafeMutablePointer<Float>) {
        let rowBlock = winogradRowBlock
        for o in 0..<outChannels {
            let dst = w + o / rowBlock * taps * rowBlock + o % rowBlock, src = weight + o * taps
            for t in 0..<taps { dst[t * rowBlock] = src[t] }
        }
    }

    /// One image: out[outC, oh, ow] = conv(x) + bias (+ residual), then
    /// `activation`; output rows split across `threads`. `w` holds `directFilters`.
    static func conv2dDirect(
        x: UnsafePointer<Float>, filters w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, geometry g: ConvGeometry,
        outChannels: Int, activation: Activation?, threads: Int
    ) {
        let s = g.strideW, taps = g.channels * 9, rowBlock = winogradRowBlock
        let hp = g.height + g.padTop + g.padBottom, wp = g.width + g.padLeft + g.padRight
        let wq = (wp + s - 1) / s + 1, slack = 32
        let oh = g.outHeight, ow = g.outWidth
        // Full octets: most outputs leave as whole vectors (the epilogue is most of a thin layer's time).
        let blocks = winogradBlocks(tileRows: oh, tileColumns: ow, full: true, threads: threads)
        let relu = activation == .relu
        parallelChunks(blocks.count, chunks: blockChunks(blocks.count, threads: threads)) { _, range in
            // The padded input rows this chunk's output rows read, split into
            // column phases: xq[((c * n + r - lo) * s + phase) * wq + i] =
            // padded x[c, r, s * i + phase] for rows r in lo ..< lo + n.
            let first = blocks[range].map { $0.first.ty }.min()!
            let last = blocks[range].map { ($0.second ?? $0.first).ty }.max()!
            let rows = s * first..<Swift.min(hp, s * last + 3)
            let n = rows.count
            let xq = UnsafeMutablePointer<Float>.allocate(capacity: g.channels * n * s * wq + slack)
            let offsets = UnsafeMutablePointer<Int>.allocate(capacity: taps)
            let row = UnsafeMutablePointer<Float>.allocate(capacity: s * wq + 16)
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: 64)
            defer {
                xq.deallocate()
                offsets.deallocate()
                row.deallocate()
                acc.deallocate()
            }
            (xq + g.channels * n * s * wq).update(repeating: 0, count: slack)
            // Each input row padded in `row` (its padding stays zero), then
            // copied (stride 1) or split into even and odd columns (stride 2).
            row.update(repeating: 0, count: s * wq + 16)
            for c in 0..<g.channels {
                for r in rows {
                    let dst = xq + (c * n + r - rows.lowerBound) * s * wq
                    let y = r - g.padTop
                    guard y >= 0 && y < g.height else {
                        dst.update(repeating: 0, count: s * wq)
                        continue
                    }
                    copyRow(x + (c * g.height + y) * g.width, row + g.padLeft, g.width)
                    if s == 1 {
                        copyRow(row, dst, wq)
                        continue
                    }
                    var i = 0
                    while i + 8 <= wq {
                        let lo = UnsafeRawPointer(row + 2 * i).loadUnaligned(as: SIMD8<Float>.self)
                        let hi = UnsafeRawPointer(row + 2 * i + 8).loadUnaligned(as: SIMD8<Float>.self)
                        store(SIMD8(lowHalf: lo.evenHalf, highHalf: hi.evenHalf), dst + i)
                        store(SIMD8(lowHalf: lo.oddHalf, highHalf: hi.oddHalf), dst + wq + i)
                        i += 8
                    }
                    while i < wq {
                        dst[i] = row[2 * i]
                        dst[wq + i] = row[2 * i + 1]
                        i += 1
                    }
                }
            }
            for c in 0..<g.channels {
                for ky in 0..<3 {
                    for kx in 0..<3 { offsets[c * 9 + ky * 3 + kx] = ((c * n + ky) * s + kx % s) * wq + kx / s }
                }
            }
            for block in blocks[range] {
                func base(_ octet: WinogradOctet) -> UnsafePointer<Float> {
                    UnsafePointer(xq + (octet.ty * s - rows.lowerBound) * s * wq + octet.tx)
                }
                let base0 = base(block.first), base1 = block.second.map(base) ?? base0
                for r in stride(from: 0, to: outChannels, by: rowBlock) {
                    let wr = w + r * taps
                    for half in 0..<(block.lanes == 16 ? 2 : 1) {
                        let first = block.lanes == 16 ? 4 * half : 0, count = block.lanes == 16 ? 4 : 8
                        if block.lanes == 16 {
                            directKernel4x16(wr + first, base0, base1, offsets, taps, acc)
                        } else {
                            directKernel8x8(wr, base0, offsets, taps, acc)
                        }
                        for i in 0..<count {
                            let o = r + first + i
                            let b = SIMD8<Float>(repeating: bias?[o] ?? 0)
                            for k in stride(from: 0, to: block.lanes, by: 8) {
                                let octet = block.octet(k / 8)
                                let at = (o * oh + octet.ty) * ow + octet.tx, dst = out + at
                                var y = UnsafeRawPointer(acc + i * block.lanes + k).loadUnaligned(as: SIMD8<Float>.self) + b
                                if let residual { y += loadFirst(residual + at, octet.count) }
                                if relu { y = y.replacing(with: 0, where: y .< 0) }
                                storeFirst(y, dst, octet.count)
                                if let activation, !relu { activationForward(activation, dst, dst, octet.count) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// acc[r][0..<8] = Σ_t w[8t + r] x[base0 + offsets[t] ..< +8] and
    /// acc[r][8..<16] the same from base1, for r = 0...3.
    @inline(__always)
    static func directKernel4x16(_ w: UnsafePointer<Float>, _ base0: UnsafePointer<Float>, _ base1: UnsafePointer<Float>,
                                 _ offsets: UnsafePointer<Int>, _ taps: Int, _ acc: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        var a0 = V8(), b0 = V8(), a1 = V8(), b1 = V8(), a2 = V8(), b2 = V8(), a3 = V8(), b3 = V8()
        var wp = w
        for t in 0..<taps {
            let lo = UnsafeRawPointer(base0 + offsets[t]).loadUnaligned(as: V8.self)
            let hi = UnsafeRawPointer(base1 + offsets[t]).loadUnaligned(as: V8.self)
            let w0 = V8(repeating: wp[0]), w1 = V8(repeating: wp[1])
            a0 = a0.addingProduct(w0, lo); b0 = b0.addingProduct(w0, hi)
            a1 = a1.addingProduct(w1, lo); b1 = b1.addingProduct(w1, hi)
            let w2 = V8(repeating: wp[2]), w3 = V8(repeating: wp[3])
            a2 = a2.addingProduct(w2, lo); b2 = b2.addingProduct(w2, hi)
            a3 = a3.addingProduct(w3, lo); b3 = b3.addingProduct(w3, hi)
            wp += 8
        }
        store(a0, acc); store(b0, acc + 8)
        store(a1, acc + 16); store(b1, acc + 24)
        store(a2, acc + 32); store(b2, acc + 40)
        store(a3, acc + 48); store(b3, acc + 56)
    }

    /// acc[r][0..<8] = Σ_t w[8t + r] x[base + offsets[t] ..< +8] for r = 0...7.
    @inline(__always)
    static func directKernel8x8(_ w: UnsafePointer<Float>, _ base: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>,
                                _ taps: Int, _ acc: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8(), a4 = V8(), a5 = V8(), a6 = V8(), a7 = V8()
        var wp = w
        for t in 0..<taps {
            let x = UnsafeRawPointer(base + offsets[t]).loadUnaligned(as: V8.self)
            a0 = a0.addingProduct(V8(repeating: wp[0]), x)
            a1 = a1.addingProduct(V8(repeating: wp[1]), x)
            a2 = a2.addingProduct(V8(repeating: wp[2]), x)
            a3 = a3.addingProduct(V8(repeating: wp[3]), x)
            a4 = a4.addingProduct(V8(repeating: wp[4]), x)
            a5 = a5.addingProduct(V8(repeating: wp[5]), x)
            a6 = a6.addingProduct(V8(repeating: wp[6]), x)
            a7 = a7.addingProduct(V8(repeating: wp[7]), x)
            wp += 8
        }
        store(a0, acc); store(a1, acc + 8); store(a2, acc + 16); store(a3, acc + 24)
        store(a4, acc + 32); store(a5, acc + 40); store(a6, acc + 48); store(a7, acc + 56)
    }

    /// The first n (0...8) floats at p, zeros after (never reading past p + n).
    @inline(__always)
    static func loadFirst(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
        if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    /// Stores the first n (0...8) lanes of v at dst.
    @inline(__always)
    static func storeFirst(_ v: SIMD8<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 8 {
            store(v, dst)
            return
        }
        var i = 0
        if n >= 4 {
            store(v.lowHalf, dst)
            i = 4
        }
        while i < n {
            dst[i] = v[i]
            i += 1
        }
    }
}
