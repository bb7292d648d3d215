/// Winograd F(4x4, 3x3) for wide images: 6x6 input tiles give 4x4 outputs,
/// 36 multiplications per tile and channel pair instead of 144 (F(2x2, 3x3)
/// needs 64 for the same 16 outputs), for transforms with a few more terms.
/// Tiles, blocks of octets, products and epilogue are those of F(2x2, 3x3)
/// (Kernels+Winograd.swift); only the transforms differ (Lavin & Gray, 2016):
///
/// B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
/// G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
/// A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
///
/// ConvKernelTests compares this path with the direct reference on the
/// geometries that take it, forward and backward.
extension Kernels {
    /// F(4x4, 3x3) takes over from F(2x2, 3x3) for outputs of 13 or more
    /// columns and 8 or more rows: rows of 4 tiles or fewer go two to an
    /// octet (split octets), wider rows one or more octets each.
    static func winogradTile(_ g: ConvGeometry) -> Int {
        g.outWidth >= 13 && g.outHeight >= 8 ? 4 : 2
    }

    /// U = G g G^T (6x6) for every filter, packed as u[ξ][o / 8][c][o % 8], ξ = 6i + j.
    static func winograd4Filters(_ weight: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                 _ u: UnsafeMutablePointer<Float>) {
        let rows = winogradRowBlock, stride = winogradPaddedRows(outChannels) * channels
        u.update(repeating: 0, count: 36 * stride)
        func gTimes(_ a: Float, _ b: Float, _ c: Float) -> [Float] {
            [a / 4, -(a + b + c) / 6, -(a - b + c) / 6, a / 24 + b / 12 + c / 6, a / 24 - b / 12 + c / 6, c]
        }
        for o in 0..<outChannels {
            for c in 0..<channels {
                let g = weight + (o * channels + c) * 9
                // t = G g (6x3) by columns, then each row of t times G^T.
                let col = (0..<3).map { j in gTimes(g[j], g[3 + j], g[6 + j]) }
                let base = u + (o / rows * channels + c) * rows + o % rows
                for i in 0..<6 {
                    let row = gTimes(col[0][i], col[1][i], col[2][i])
                    for j in 0..<6 { base[(6 * i + j) * stride] = row[j] }
                }
            }
        }
    }

    /// One image, as `conv2dWinograd` with 4x4 tiles.
    static func conv2dWinograd4(
        x: UnsafePointer<Float>, filters u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, geometry g: ConvGeometry,
        outChannels: Int, activation: Activation?, threads: Int
    ) {
        let oh = g.outHeight, ow = g.outWidth
        let th = (oh + 3) / 4, tw = (ow + 3) / 4
        var pg = g
        pg.padBottom += 4 * th - oh
        pg.padRight += 4 * tw - ow
        let wp = pg.width + pg.padLeft + pg.padRight
        let cin = g.channels, rows = winogradPaddedRows(outChannels)
        let blocks = winogradBlocks(tileRows: th, tileColumns: tw, split: tw <= 4, threads: threads)
        let output = Winograd4Output(height: oh, width: ow, channels: outChannels, rows: rows,
                                     epilogue: ConvEpilogue(out: out, bias: bias, residual: residual, activation: activation))
        eachWinogradBlock(x, pg, blocks: blocks, tile: 4, rows: rows, threads: threads) { block, b in
            Winograd4Input(image: b.image, rowStride: wp, planeStride: b.planeStride, channels: cin)
                .transform(block, into: b.v, scratch: b.scratch)
            winogradProducts(u: u, v: b.v, m: b.m, rows: rows, channels: cin, lanes: block.lanes, positions: 36)
            output.transform(block, from: b.m, scratch: b.scratch)
        }
    }
}

/// The 6 outputs of B^T times 6 vectors (a row or column of tiles, lanes = tiles).
@inline(__always)
private func bTranspose(_ d: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>))
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let four = SIMD8<Float>(repeating: 4), five = SIMD8<Float>(repeating: 5), two = SIMD8<Float>(repeating: 2)
    let a = d.4 - four * d.2, b = d.3 - four * d.1
    let c = d.4 - d.2, e = two * (d.3 - d.1)
    return (four * d.0 - five * d.2 + d.4, a + b, a - b, c + e, c - e, four * d.1 - five * d.3 + d.5)
}

/// V[ξ = 6i + l, c, lane] = (B^T d B)[i][l] for the 6x6 tile d of each lane,
/// SIMD8 over eight tiles of a row. Column j of the tiles is x[4k + j]: the
/// 32 values from the first tile split four ways (j = 0...3), and those from
/// one tile further (j = 4, 5). Three passes through `scratch` (36 of its
/// 40 vectors) keep the live vectors within the registers.
struct Winograd4Input {
    typealias V8 = SIMD8<Float>
    let image: UnsafeMutablePointer<Float>
    let rowStride: Int, planeStride: Int, channels: Int

    func transform(_ block: Kernels.WinogradBlock, into v: UnsafeMutablePointer<Float>,
                   scratch s: UnsafeMutablePointer<Float>) {
        let lanes = block.lanes, step = Kernels.winogradVStride(channels: channels, lanes: lanes)
        func load(_ i: Int) -> V8 { UnsafeRawPointer(s + 8 * i).loadUnaligned(as: V8.self) }
        for c in 0..<channels {
            for k in stride(from: 0, to: lanes, by: 8) {
                let octet = block.octet(k / 8)
                let p = image + c * planeStride + 4 * octet.ty * rowStride + 4 * octet.tx
                // A split octet's lanes 4...7 start 4 image rows (one tile row) further down.
                let second = octet.split ? 4 * rowStride : 16
                // Pass 1: each of the 6 rows split into its 6 columns: s[6r + j].
                for r in 0..<6 {
                    let a = UnsafeRawPointer(p + r * rowStride), b = UnsafeRawPointer(p + r * rowStride + second)
                    let x0 = a.loadUnaligned(as: V8.self), x1 = a.loadUnaligned(fromByteOffset: 32, as: V8.self)
                    let x2 = b.loadUnaligned(as: V8.self), x3 = b.loadUnaligned(fromByteOffset: 32, as: V8.self)
                    let e01 = V8(lowHalf: x0.evenHalf, highHalf: x1.evenHalf), o01 = V8(lowHalf: x0.oddHalf, highHalf: x1.oddHalf)
                    let e23 = V8(lowHalf: x2.evenHalf, highHalf: x3.evenHalf), o23 = V8(lowHalf: x2.oddHalf, highHalf: x3.oddHalf)
                    let c0 = V8(lowHalf: e01.evenHalf, highHalf: e23.evenHalf), c2 = V8(lowHalf: e01.oddHalf, highHalf: e23.oddHalf)
                    let c1 = V8(lowHalf: o01.evenHalf, highHalf: o23.evenHalf), c3 = V8(lowHalf: o01.oddHalf, highHalf: o23.oddHalf)
                    // x[4k + 4], x[4k + 5]: c0, c1 shifted by one lane, the lane after each
                    // half's last tile read from that half's row.
                    let ya = a.loadUnaligned(fromByteOffset: 64, as: SIMD2<Float>.self)
                    let yb = b.loadUnaligned(fromByteOffset: 64, as: SIMD2<Float>.self)
                    let c4 = octet.split ? V8(c0[1], c0[2], c0[3], ya[0], c0[5], c0[6], c0[7], yb[0])
                        : V8(c0[1], c0[2], c0[3], c0[4], c0[5], c0[6], c0[7], yb[0])
                    let c5 = octet.split ? V8(c1[1], c1[2], c1[3], ya[1], c1[5], c1[6], c1[7], yb[1])
                        : V8(c1[1], c1[2], c1[3], c1[4], c1[5], c1[6], c1[7], yb[1])
                    let row = s + 48 * r
                    Kernels.store(c0, row); Kernels.store(c1, row + 8); Kernels.store(c2, row + 16)
                    Kernels.store(c3, row + 24); Kernels.store(c4, row + 32); Kernels.store(c5, row + 40)
                }
                // Pass 2: B^T over the rows, column by column: s[6i + j] = Σ_r B^T[i][r] d[r][j].
                for j in 0..<6 {
                    let t = bTranspose((load(j), load(6 + j), load(12 + j), load(18 + j), load(24 + j), load(30 + j)))
                    Kernels.store(t.0, s + 8 * j); Kernels.store(t.1, s + 8 * (6 + j)); Kernels.store(t.2, s + 8 * (12 + j))
                    Kernels.store(t.3, s + 8 * (18 + j)); Kernels.store(t.4, s + 8 * (24 + j)); Kernels.store(t.5, s + 8 * (30 + j))
                }
                // Pass 3: times B along each row: V[6i + l] = Σ_j B^T[l][j] t[i][j].
                let dst = v + c * lanes + k
                for i in 0..<6 {
                    let w = bTranspose((load(6 * i), load(6 * i + 1), load(6 * i + 2), load(6 * i + 3), load(6 * i + 4), load(6 * i + 5)))
                    Kernels.store(w.0, dst + (6 * i) * step); Kernels.store(w.1, dst + (6 * i + 1) * step)
                    Kernels.store(w.2, dst + (6 * i + 2) * step); Kernels.store(w.3, dst + (6 * i + 3) * step)
                    Kernels.store(w.4, dst + (6 * i + 4) * step); Kernels.store(w.5, dst + (6 * i + 5) * step)
                }
            }
        }
    }
}

/// Y = A^T M A + bias (+ residual) per tile, then the activation, SIMD8 over
/// the tiles; the 4 columns of each output row are interleaved into 32
/// consecutive values and cropped to the image.
struct Winograd4Output {
    typealias V8 = SIMD8<Float>
    let height: Int, width: Int, channels: Int, rows: Int
    let epilogue: ConvEpilogue

    /// The 4 outputs of A^T times 6 vectors.
    @inline(__always)
    private func aTranspose(_ m: (V8, V8, V8, V8, V8, V8)) -> (V8, V8, V8, V8) {
        let two = V8(repeating: 2), four = V8(repeating: 4), eight = V8(repeating: 8)
        let s12 = m.1 + m.2, d12 = m.1 - m.2, s34 = m.3 + m.4, d34 = m.3 - m.4
        return (m.0 + s12 + s34, d12 + two * d34, s12 + four * s34, d12 + eight * d34 + m.5)
    }

    func transform(_ block: Kernels.WinogradBlock, from m: UnsafePointer<Float>, scratch s: UnsafeMutablePointer<Float>) {
        let lanes = block.lanes, stride = 36 * lanes
        let sr = UnsafeRawPointer(s)
        for k in Swift.stride(from: 0, to: lanes, by: 8) {
            let octet = block.octet(k / 8)
            let x0 = 4 * octet.tx
            for o in 0..<channels {
                let b = epilogue.bias(o)
                let src = UnsafeRawPointer(m + o * stride + k), step = 4 * lanes
                // Pass A: each row i of M times A: s[4i + col].
                for i in 0..<6 {
                    let r = src + 6 * i * step
                    let t = aTranspose((r.loadUnaligned(as: V8.self), r.loadUnaligned(fromByteOffset: step, as: V8.self),
                                        r.loadUnaligned(fromByteOffset: 2 * step, as: V8.self),
                                        r.loadUnaligned(fromByteOffset: 3 * step, as: V8.self),
                                        r.loadUnaligned(fromByteOffset: 4 * step, as: V8.self),
                                        r.loadUnaligned(fromByteOffset: 5 * step, as: V8.self)))
                    Kernels.store(t.0, s + 32 * i); Kernels.store(t.1, s + 32 * i + 8)
                    Kernels.store(t.2, s + 32 * i + 16); Kernels.store(t.3, s + 32 * i + 24)
                }
                // Pass B: A^T over the rows, column by column: output row a, column col at s[24 + 4a + col].
                for col in 0..<4 {
                    let c = sr + 32 * col
                    let t = aTranspose((c.loadUnaligned(as: V8.self), c.loadUnaligned(fromByteOffset: 128, as: V8.self),
                                        c.loadUnaligned(fromByteOffset: 256, as: V8.self), c.loadUnaligned(fromByteOffset: 384, as: V8.self),
                                        c.loadUnaligned(fromByteOffset: 512, as: V8.self), c.loadUnaligned(fromByteOffset: 640, as: V8.self)))
                    Kernels.store(t.0, s + 8 * (24 + col)); Kernels.store(t.1, s + 8 * (28 + col))
                    Kernels.store(t.2, s + 8 * (32 + col)); Kernels.store(t.3, s + 8 * (36 + col))
                }
                // Lanes 0...7 on one tile row, or (split) lanes 0...3 and 4...7 on two.
                for half in 0..<(octet.split ? 2 : 1) {
                    let ty = octet.ty + half, tiles = half == 0 ? octet.count : octet.splitCount
                    let n = Swift.min(4 * tiles, width - x0)
                    let rowsHere = Swift.min(4, height - 4 * ty)
                    for a in 0..<rowsHere {
                        let at = (o * height + 4 * ty + a) * width + x0
                        let y = sr + 32 * (24 + 4 * a)
                        emitRow(y.loadUnaligned(as: V8.self), y.loadUnaligned(fromByteOffset: 32, as: V8.self),
                                y.loadUnaligned(fromByteOffset: 64, as: V8.self), y.loadUnaligned(fromByteOffset: 96, as: V8.self),
                                firstTile: 4 * half, at: at, n: n, bias: b)
                    }
                }
            }
        }
    }

    /// One output row of an octet's tiles: value 4k + col = column col of
    /// tile k (lanes firstTile...), n values from out[at], through the epilogue.
    @inline(__always)
    private func emitRow(_ r0: V8, _ r1: V8, _ r2: V8, _ r3: V8, firstTile: Int, at: Int, n: Int, bias b: V8) {
        var h = 0
        while 8 * h < n {
            let l = firstTile + 2 * h
            epilogue.store(V8(r0[l], r1[l], r2[l], r3[l], r0[l + 1], r1[l + 1], r2[l + 1], r3[l + 1]), b,
                           at: at + 8 * h, Swift.min(8, n - 8 * h))
            h += 1
        }
        epilogue.finish(at: at, n)
    }
}
