/// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
/// (Lavin & Gray, 2016, "Fast Algorithms for Convolutional Neural Networks").
///
/// Each 2x2 block of outputs comes from a 4x4 input tile d and a 3x3 filter g:
/// Y = A^T [(G g G^T) ⊙ (B^T d B)] A, 16 multiplications instead of 36. Over
/// channels the elementwise products become 16 matrix products,
/// M_ξ[outC, tiles] = U_ξ[outC, C] * V_ξ[C, tiles] (ξ = the 16 positions of
/// the 4x4 transformed tile), computed by our own micro-kernels
/// (Kernels+WinogradProduct.swift): 2.25x fewer multiply-adds than im2col +
/// gemm, for an input and an output transform that are additions only.
/// Errors stay at float32 rounding level for 3x3 filters.
///
/// Tiles go in blocks of 8 or 16 along a tile row, one per SIMD lane: both
/// transforms are SIMD8 over the tiles of a block, and a block's V and M
/// (16 x channels x lanes each) stay in cache from the input transform to
/// the output transform.
///
/// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
/// G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
/// A^T = [1 1 1 0; 0 1 -1 -1]
extension Kernels {
    /// Whether `conv2dForward` takes this path: 3x3, stride 1, one group, and
    /// enough channels for the 16 products to be worth their transforms.
    public static func winogradApplies(_ g: ConvGeometry, outChannels: Int, groups: Int) -> Bool {
        g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1 && groups == 1
            && g.channels >= 8 && outChannels >= 8 && g.outHeight >= 4 && g.outWidth >= 4
    }

    /// Output channels of the filters' packing: u[ξ][o / 8][c][o % 8].
    static let winogradRowBlock = 8

    /// Size of `winogradFilters`' output: 16 (36 for 4x4 tiles) * outC (rounded up to 8) * C.
    public static func winogradFilterCount(outChannels: Int, channels: Int, tile: Int = 2) -> Int {
        (tile + 2) * (tile + 2) * winogradPaddedRows(outChannels) * channels
    }

    static func winogradPaddedRows(_ outChannels: Int) -> Int {
        (outChannels + winogradRowBlock - 1) / winogradRowBlock * winogradRowBlock
    }

    /// U_ξ = G g G^T for every filter g = weight[o, c] (3x3), the weights in
    /// the Winograd domain (a plan computes them once), packed for the
    /// micro-kernels: u[ξ][o / 8][c][o % 8], the output channels padded with
    /// zero filters to a multiple of 8.
    public static func winogradFilters(_ weight: UnsafePointer<Float>, outChannels: Int, channels: Int, tile: Int = 2,
                                       _ u: UnsafeMutablePointer<Float>) {
        if tile == 4 { return winograd4Filters(weight, outChannels: outChannels, channels: channels, u) }
        let rows = winogradRowBlock, stride = winogradPaddedRows(outChannels) * channels
        u.update(repeating: 0, count: winogradFilterCount(outChannels: outChannels, channels: channels))
        for o in 0..<outChannels {
            for c in 0..<channels {
                let g = weight + (o * channels + c) * 9
                // t = G g (4x3, rows as vectors), then each row times G^T.
                let g0 = SIMD3(g[0], g[1], g[2]), g1 = SIMD3(g[3], g[4], g[5]), g2 = SIMD3(g[6], g[7], g[8])
                let base = u + (o / rows * channels + c) * rows + o % rows
                func put(_ i: Int, _ r: SIMD3<Float>) {
                    base[(4 * i + 0) * stride] = r[0]
                    base[(4 * i + 1) * stride] = 0.5 * (r[0] + r[1] + r[2])
                    base[(4 * i + 2) * stride] = 0.5 * (r[0] - r[1] + r[2])
                    base[(4 * i + 3) * stride] = r[2]
                }
                put(0, g0)
                put(1, 0.5 * (g0 + g1 + g2))
                put(2, 0.5 * (g0 - g1 + g2))
                put(3, g2)
            }
        }
    }

    /// The geometry of the padded copy the tiles read: the model's padding plus
    /// one zero row / column when the output size is odd (a last, partial tile).
    static func winogradPadding(_ g: ConvGeometry) -> ConvGeometry {
        var p = g
        p.padBottom += g.outHeight % 2
        p.padRight += g.outWidth % 2
        return p
    }

    /// Floats the input transform may read past the padded image: a block
    /// reads 2 * lanes + 2 columns from its first tile, whatever the row's
    /// width (the lanes past the row are computed and never used).
    static let winogradReadSlack = 64

    /// `count` (at most 8) tiles of tile row `ty` from tile `tx`: the lanes
    /// of one SIMD8 vector. A split octet (F(4x4, 3x3) on narrow images)
    /// holds `count` (at most 4) tiles of row `ty` in lanes 0...3 and
    /// `splitCount` tiles of row ty + 1 in lanes 4...7.
    struct WinogradOctet {
        var ty: Int, tx: Int, count: Int
        var splitCount = 0
        var split: Bool { splitCount > 0 }
        /// The last tile row it holds.
        var lastRow: Int { split ? ty + 1 : ty }
    }

    /// A block: one or two octets (8 or 16 lanes), not necessarily of the
    /// same row, so that narrow images fill 16 lanes too.
    struct WinogradBlock {
        var first: WinogradOctet, second: WinogradOctet?
        var lanes: Int { second == nil ? 8 : 16 }
        func octet(_ k: Int) -> WinogradOctet { k == 0 ? first : second! }
    }

    /// Floats from one position's plane of a block's V to the next: the
    /// plane plus a cache line. Planes of 2 or 4 KiB would put the 16 or 36
    /// values a transform writes for one channel in the same L1 set (8 ways),
    /// which cost a quarter of the F(4x4) input transform.
    static func winogradVStride(channels: Int, lanes: Int) -> Int { channels * lanes + 16 }

    /// Chunks for `parallelChunks` over `blocks` blocks: up to four per
    /// thread when threads share them, so that the threads claim work a
    /// piece at a time and a helper that starts late (this VM's second core
    /// comes and goes) joins for what is left instead of holding up half of
    /// the work; not more, as each chunk prepares its own input rows.
    static func blockChunks(_ blocks: Int, threads: Int) -> Int {
        threads > 1 ? Swift.min(blocks, 4 * threads) : 1
    }

    /// Every row cut into octets as even as they can be (`full`: full
    /// octets and a shorter last one; `split`: rows of at most 4 tiles two
    /// to an octet), the octets paired in order, or one to a block when
    /// pairs would leave a thread without a block.
    static func winogradBlocks(tileRows th: Int, tileColumns tw: Int, split: Bool = false, full: Bool = false,
                               threads: Int = 1) -> [WinogradBlock] {
        var octets: [WinogradOctet] = []
        if split {
            precondition(tw <= 4, "winogradBlocks: split octets hold rows of at most 4 tiles, not \(tw)")
            for ty in stride(from: 0, to: th, by: 2) {
                octets.append(WinogradOctet(ty: ty, tx: 0, count: tw, splitCount: ty + 1 < th ? tw : 0))
            }
        } else {
            let pieces = (tw + 7) / 8
            for ty in 0..<th {
                for p in 0..<pieces {
                    let lo = full ? 8 * p : p * tw / pieces, hi = full ? Swift.min(tw, lo + 8) : (p + 1) * tw / pieces
                    octets.append(WinogradOctet(ty: ty, tx: lo, count: hi - lo))
                }
            }
        }
        let perBlock = (octets.count + 1) / 2 >= threads ? 2 : 1
        return stride(from: 0, to: octets.count, by: perBlock).map {
            WinogradBlock(first: octets[$0], second: perBlock == 2 && $0 + 1 < octets.count ? octets[$0 + 1] : nil)
        }
    }

    /// One image: out[outC, oh, ow] = conv(x) + bias (+ residual), then
    /// `activation`. `u` holds `winogradFilters` of the weights. Blocks are split across
    /// `threads`; each runs its input transform, the 16 products and its
    /// output transform back to back.
    static func conv2dWinograd(
        x: UnsafePointer<Float>, filters u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, geometry g: ConvGeometry,
        outChannels: Int, activation: Activation?, threads: Int
    ) {
        if winogradTile(g) == 4 {
            return conv2dWinograd4(x: x, filters: u, bias: bias, out: out, residual: residual, geometry: g,
                                   outChannels: outChannels, activation: activation, threads: threads)
        }
        let pg = winogradPadding(g)
        let wp = pg.width + pg.padLeft + pg.padRight
        let oh = g.outHeight, ow = g.outWidth
        let cin = g.channels, rows = winogradPaddedRows(outChannels)
        let blocks = winogradBlocks(tileRows: (oh + 1) / 2, tileColumns: (ow + 1) / 2)
        let output = WinogradOutput(height: oh, width: ow, channels: outChannels, rows: rows,
                                    epilogue: ConvEpilogue(out: out, bias: bias, residual: residual, activation: activation))
        eachWinogradBlock(x, pg, blocks: blocks, tile: 2, rows: rows, threads: threads) { block, b in
            WinogradInput(image: b.image, rowStride: wp, planeStride: b.planeStride, channels: cin).transform(block, into: b.v)
            winogradProducts(u: u, v: b.v, m: b.m, rows: rows, channels: cin, lanes: block.lanes)
            output.transform(block, from: b.m)
        }
    }

    /// A chunk's buffers for `eachWinogradBlock`: the padded image rows its
    /// blocks read, in a buffer of the chunk's own (padded inside the parallel
    /// region, so that the copy is not a serial step), V, M and a scratch of 40
    /// vectors. `image` keeps the rows' numbers: padded row r of plane c is
    /// at image + c * planeStride + r * Wp.
    struct WinogradBuffers {
        let image: UnsafeMutablePointer<Float>
        let planeStride: Int
        let v, m, scratch: UnsafeMutablePointer<Float>
    }

    /// body(block, buffers) for every block, the blocks split across
    /// `threads` (`blockChunks`), each chunk with its own `WinogradBuffers`.
    /// Inlined, so that each kernel's body is compiled into its loop (called
    /// through the closure, ResNetMini at batch 1 was 4% slower).
    @inline(__always)
    static func eachWinogradBlock(
        _ x: UnsafePointer<Float>, _ pg: ConvGeometry, blocks: [WinogradBlock], tile: Int, rows: Int, threads: Int,
        _ body: (WinogradBlock, WinogradBuffers) -> Void
    ) {
        let wp = pg.width + pg.padLeft + pg.padRight, hp = pg.height + pg.padTop + pg.padBottom
        let cin = pg.channels, positions = (tile + 2) * (tile + 2)
        parallelChunks(blocks.count, chunks: blockChunks(blocks.count, threads: threads)) { _, range in
            // Tile rows first...last read padded rows tile * first ..< tile * last + tile + 2.
            let first = blocks[range].map { $0.first.ty }.min()!
            let last = blocks[range].map { ($0.second ?? $0.first).lastRow }.max()!
            let padded = tile * first..<Swift.min(hp, tile * last + tile + 2)
            let count = cin * padded.count * wp + winogradReadSlack
            let xp = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: positions * winogradVStride(channels: cin, lanes: 16))
            let m = UnsafeMutablePointer<Float>.allocate(capacity: positions * rows * 16)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 40 * 8)
            defer {
                xp.deallocate()
                v.deallocate()
                m.deallocate()
                scratch.deallocate()
            }
            paddedRows(x, pg, rows: padded, xp)
            (xp + count - winogradReadSlack).update(repeating: 0, count: winogradReadSlack)
            let buffers = WinogradBuffers(image: xp - padded.lowerBound * wp, planeStride: padded.count * wp,
                                          v: v, m: m, scratch: scratch)
            for block in blocks[range] { body(block, buffers) }
        }
    }
}

/// V[ξ, c, lane] = B^T d B for the 4x4 tile d of each lane, SIMD8 over
/// eight tiles: column j of the eight tiles is lane-wise the even (j = 0, 2)
/// or odd (j = 1, 3) columns of 16 image columns read from the first
/// tile's column (j = 0, 1) or two further (j = 2, 3). B^T d combines the
/// four rows (r0 - r2, r1 + r2, r2 - r1, r1 - r3), then the columns the same.
struct WinogradInput {
    typealias V8 = SIMD8<Float>
    let image: UnsafeMutablePointer<Float>
    let rowStride: Int, planeStride: Int, channels: Int

    func transform(_ block: Kernels.WinogradBlock, into v: UnsafeMutablePointer<Float>) {
        let lanes = block.lanes, step = Kernels.winogradVStride(channels: channels, lanes: lanes)
        for c in 0..<channels {
            for k in stride(from: 0, to: lanes, by: 8) {
                let octet = block.octet(k / 8)
                let p = image + c * planeStride + 2 * octet.ty * rowStride + 2 * octet.tx
                func columns(_ r: Int) -> (V8, V8, V8, V8) {
                    let a = UnsafeRawPointer(p + r * rowStride)
                    let lo = a.loadUnaligned(as: V8.self), hi = a.loadUnaligned(fromByteOffset: 32, as: V8.self)
                    let lo2 = a.loadUnaligned(fromByteOffset: 8, as: V8.self), hi2 = a.loadUnaligned(fromByteOffset: 40, as: V8.self)
                    return (V8(lowHalf: lo.evenHalf, highHalf: hi.evenHalf), V8(lowHalf: lo.oddHalf, highHalf: hi.oddHalf),
                            V8(lowHalf: lo2.evenHalf, highHalf: hi2.evenHalf), V8(lowHalf: lo2.oddHalf, highHalf: hi2.oddHalf))
                }
                let d0 = columns(0), d1 = columns(1), d2 = columns(2), d3 = columns(3)
                // v[ξ][c][lane], as the products read it.
                let dst = v + c * lanes + k
                func put(_ row: Int, _ q: (V8, V8, V8, V8)) {
                    Kernels.store(q.0 - q.2, dst + (4 * row) * step)
                    Kernels.store(q.1 + q.2, dst + (4 * row + 1) * step)
                    Kernels.store(q.2 - q.1, dst + (4 * row + 2) * step)
                    Kernels.store(q.1 - q.3, dst + (4 * row + 3) * step)
                }
                put(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
                put(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
                put(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
                put(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
            }
        }
    }
}

/// Y = A^T M A per tile, then `ConvEpilogue`, SIMD8 over the tiles: the rows of A^T M are
/// P_j = M0j + M1j + M2j and Q_j = M1j - M2j - M3j, and the tile's outputs
/// (P0 + P1 + P2, P1 - P2 - P3) on its first row, the same of Q on its
/// second, interleaved into the output rows, cropped to the image.
struct WinogradOutput {
    typealias V8 = SIMD8<Float>
    let height: Int, width: Int, channels: Int, rows: Int
    let epilogue: ConvEpilogue

    func transform(_ block: Kernels.WinogradBlock, from m: UnsafePointer<Float>) {
        let lanes = block.lanes
        for o in 0..<channels {
            let b = epilogue.bias(o)
            for k in stride(from: 0, to: lanes, by: 8) {
                let octet = block.octet(k / 8)
                let y0 = 2 * octet.ty, secondRow = y0 + 1 < height
                let x0 = 2 * octet.tx, n = Swift.min(2 * octet.count, width - x0)
                let at = (o * height + y0) * width + x0
                // m[o][ξ][lane]: the 16 values of a channel's tiles side by side.
                let src = UnsafeRawPointer(m + o * 16 * lanes + k)
                func q(_ i: Int, _ j: Int) -> V8 { src.loadUnaligned(fromByteOffset: 4 * (4 * i + j) * lanes, as: V8.self) }
                var p = (q(0, 0) + q(1, 0) + q(2, 0), q(0, 1) + q(1, 1) + q(2, 1),
                         q(0, 2) + q(1, 2) + q(2, 2), q(0, 3) + q(1, 3) + q(2, 3))
                emit(p.0 + p.1 + p.2, p.1 - p.2 - p.3, b, at: at, n)
                if secondRow {
                    p = (q(1, 0) - q(2, 0) - q(3, 0), q(1, 1) - q(2, 1) - q(3, 1),
                         q(1, 2) - q(2, 2) - q(3, 2), q(1, 3) - q(2, 3) - q(3, 3))
                    emit(p.0 + p.1 + p.2, p.1 - p.2 - p.3, b, at: at + width, n)
                }
            }
        }
    }

    /// Output row values from `at`: the first n of even[0], odd[0],
    /// even[1], odd[1], ..., through the epilogue.
    @inline(__always)
    private func emit(_ even: V8, _ odd: V8, _ b: V8, at: Int, _ n: Int) {
        epilogue.store(V8(even[0], odd[0], even[1], odd[1], even[2], odd[2], even[3], odd[3]), b, at: at, Swift.min(8, n))
        if n > 8 {
            epilogue.store(V8(even[4], odd[4], even[5], odd[5], even[6], odd[6], even[7], odd[7]), b, at: at + 8, n - 8)
        }
        epilogue.finish(at: at, n)
    }
}
