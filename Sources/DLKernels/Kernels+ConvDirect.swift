/// Direct 3x3 convolution (stride 1 or 2) for the layers Winograd does not
/// take: few input channels (a network's stem) or stride 2. The image rows
/// are copied once, padded and split into their stride's column phases, so
/// that the outputs of a row read consecutive inputs. A block of 8 or
/// 16 outputs gathers its C * 9 taps into a panel, and the Winograd
/// products' micro-kernels keep 4 output channels x 16 outputs (or 8 x 8)
/// in registers over the panel, with the filters packed by `directFilters`
/// (a plan does it once) as w[o / 8][c * 9 + tap][o % 8].
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
        let epilogue = ConvEpilogue(out: out, bias: bias, residual: residual, activation: activation)
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
            let panel = UnsafeMutablePointer<Float>.allocate(capacity: 16 * taps)
            defer {
                xq.deallocate()
                offsets.deallocate()
                row.deallocate()
                acc.deallocate()
                panel.deallocate()
            }
            (xq + g.channels * n * s * wq).update(repeating: 0, count: slack)
            // Each input row padded in `row` (past Wp it stays zero), then
            // copied (stride 1) or split into even and odd columns (stride 2).
            row.update(repeating: 0, count: s * wq + 16)
            for c in 0..<g.channels {
                for r in rows {
                    let dst = xq + (c * n + r - rows.lowerBound) * s * wq
                    paddedRow(x, g, channel: c, row: r, row)
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
                // The block's taps gathered once into a contiguous panel
                // [tap][lanes], which every output channel then reads through
                // the Winograd products' micro-kernels.
                let lanes = block.lanes
                let base0 = base(block.first), base1 = block.second.map(base) ?? base0
                for t in 0..<taps {
                    store(UnsafeRawPointer(base0 + offsets[t]).loadUnaligned(as: SIMD8<Float>.self), panel + lanes * t)
                    if lanes == 16 {
                        store(UnsafeRawPointer(base1 + offsets[t]).loadUnaligned(as: SIMD8<Float>.self), panel + 16 * t + 8)
                    }
                }
                for r in stride(from: 0, to: outChannels, by: rowBlock) {
                    let wr = w + r * taps
                    for half in 0..<(lanes == 16 ? 2 : 1) {
                        let first = lanes == 16 ? 4 * half : 0, count = lanes == 16 ? 4 : 8
                        if lanes == 16 {
                            winogradKernel4x16(wr + first, panel, taps, acc, 16)
                        } else {
                            winogradKernel8x8(wr, panel, taps, acc, 8)
                        }
                        for i in 0..<count {
                            let o = r + first + i
                            let b = epilogue.bias(o)
                            for k in stride(from: 0, to: block.lanes, by: 8) {
                                let octet = block.octet(k / 8)
                                let at = (o * oh + octet.ty) * ow + octet.tx
                                epilogue.store(UnsafeRawPointer(acc + i * block.lanes + k).loadUnaligned(as: SIMD8<Float>.self), b,
                                               at: at, octet.count)
                                epilogue.finish(at: at, octet.count)
                            }
                        }
                    }
                }
            }
        }
    }
}
