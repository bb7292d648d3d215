/// Batched 2-D convolution over NCHW tensors, as im2col + gemm per image (a
/// 1x1 stride-1 unpadded convolution skips im2col: the image already is the
/// column matrix). Weights use PyTorch's layout [out, in/groups, kh, kw].
/// Every backward *adds* into the gradient buffers it is given (nil = not wanted).
extension Kernels {
    /// out[N, outC, oh, ow] = conv(x[N, C, H, W], weight[outC, C/groups, kh, kw]) + bias[outC].
    /// `g.channels` is C; group k reads input channels [k*C/groups, (k+1)*C/groups)
    /// and writes output channels [k*outC/groups, (k+1)*outC/groups).
    /// Images are split across threads (see `parallelChunks`); each thread owns one
    /// im2col buffer for one image at a time. `activation`, when given, is
    /// applied to each image's output right after its product, while it is in cache.
    /// `residual` [N, outC, oh, ow], when given, is added before the
    /// activation (a residual block's shortcut, fused by an inference plan).
    public static func conv2dForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry, outChannels: Int, groups: Int = 1,
        activation: Activation? = nil, packedFilters: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil
    ) {
        precondition(g.channels % groups == 0 && outChannels % groups == 0,
                     "conv2dForward: groups \(groups) must divide in \(g.channels) and out \(outChannels) channels")
        let l = g.colCols, plane = g.inputPlane
        let winograd = winogradApplies(g, outChannels: outChannels, groups: groups)
        let fusesResidual = winograd || directConvApplies(g, outChannels: outChannels, groups: groups)
        if let residual, !fusesResidual {
            // The gemm paths: the sum and the activation as a pass of their own.
            conv2dForward(x: x, weight: weight, bias: bias, out: out, batch: batch, geometry: g, outChannels: outChannels,
                          groups: groups, packedFilters: packedFilters)
            let count = batch * outChannels * l
            accumulate(residual, into: out, count)
            if let activation { activationForward(activation, out, out, count) }
            return
        }
        let coutG = outChannels / groups, kG = (g.channels / groups) * g.kernelH * g.kernelW
        let pointwise = g.isPointwise
        // 3x3 stride 1 with enough channels: Winograd (2.25x or 4x fewer
        // multiply-adds); other 3x3 convolutions of stride 1 or 2 with output
        // channels in eights: the direct kernel. Both on packed filters.
        if fusesResidual {
            let owned = packedFilters == nil ? packFilters(weight, geometry: g, outChannels: outChannels, groups: groups)! : []
            owned.withUnsafeBufferPointer { ownedFilters in
                let f = packedFilters ?? ownedFilters.baseAddress!
                eachImage(batch) { n, threads in
                    let xn = x + n * g.channels * plane, on = out + n * outChannels * l
                    let rn = residual.map { $0 + n * outChannels * l }
                    if winograd {
                        conv2dWinograd(x: xn, filters: f, bias: bias, out: on, residual: rn, geometry: g,
                                       outChannels: outChannels, activation: activation, threads: threads)
                    } else {
                        conv2dDirect(x: xn, filters: f, bias: bias, out: on, residual: rn, geometry: g,
                                     outChannels: outChannels, activation: activation, threads: threads)
                    }
                }
            }
            return
        }
        // Fewer images than threads (batch-1 inference): split each image's
        // output rows across the threads instead, each unfolding its own band.
        if batch < blasThreads, groups == 1, !pointwise, g.outHeight >= 2 * blasThreads,
           outChannels * g.colRows * l >= 1 << 18 {
            for n in 0..<batch {
                conv2dBands(x: x + n * g.channels * plane, weight: weight, bias: bias, out: out + n * outChannels * l,
                            geometry: g, outChannels: outChannels, activation: activation)
            }
            return
        }
        if groups == 1, !pointwise, g.strideH == 1, g.strideW == 1 {
            parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
                let xp = UnsafeMutablePointer<Float>.allocate(capacity: paddedImageCount(g))
                defer { xp.deallocate() }
                for n in images {
                    paddedImage(x + n * g.channels * plane, g, xp)
                    conv2dStride1Rows(padded: xp, weight: weight, bias: bias, out: out + n * outChannels * l, geometry: g,
                                      outChannels: outChannels, activation: activation, rows: 0..<g.outHeight)
                }
            }
            return
        }
        parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
            let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: g.colRows * l)
            defer { col?.deallocate() }
            for n in images {
                let xn = x + n * g.channels * plane
                let on = out + n * outChannels * l
                let cols: UnsafePointer<Float>
                if let col {
                    im2col(xn, g, col)
                    cols = UnsafePointer(col)
                } else {
                    cols = xn
                }
                if let bias {
                    for co in 0..<outChannels { (on + co * l).update(repeating: bias[co], count: l) }
                }
                for k in 0..<groups {
                    gemm(transA: false, transB: false, m: coutG, n: l, k: kG,
                         a: weight + k * coutG * kG, lda: kG, b: cols + k * kG * l, ldb: l,
                         beta: bias == nil ? 0 : 1, c: on + k * coutG * l, ldc: l)
                }
                if let activation { activationForward(activation, on, on, outChannels * l) }
            }
        }
    }

    /// The path `conv2dForward` takes: "winograd", "direct" or "gemm".
    public static func convPath(_ g: ConvGeometry, outChannels: Int, groups: Int) -> String {
        winogradApplies(g, outChannels: outChannels, groups: groups) ? "winograd F(\(winogradTile(g))x\(winogradTile(g)))"
            : directConvApplies(g, outChannels: outChannels, groups: groups) ? "direct" : "gemm"
    }

    /// The weights in the layout of the path `conv2dForward` takes for this
    /// geometry (the Winograd domain, or packed for the direct kernel), for
    /// a caller that runs it many times to compute once and pass as
    /// `packedFilters`; nil when the path uses the weights as they are.
    public static func packFilters(_ weight: UnsafePointer<Float>, geometry g: ConvGeometry, outChannels: Int,
                                   groups: Int) -> [Float]? {
        let winograd = winogradApplies(g, outChannels: outChannels, groups: groups)
        guard winograd || directConvApplies(g, outChannels: outChannels, groups: groups) else { return nil }
        let tile = winogradTile(g)
        let count = winograd ? winogradFilterCount(outChannels: outChannels, channels: g.channels, tile: tile)
            : outChannels * g.colRows
        return [Float](unsafeUninitializedCapacity: count) { buf, done in
            if winograd {
                winogradFilters(weight, outChannels: outChannels, channels: g.channels, tile: tile, buf.baseAddress!)
            } else {
                directFilters(weight, outChannels: outChannels, taps: g.colRows, buf.baseAddress!)
            }
            done = count
        }
    }

    /// body(n, threads) for every image n: with fewer images than threads
    /// (batch-1 inference) each image gets all the threads, else the images
    /// are split across the threads and each gets one.
    static func eachImage(_ batch: Int, _ body: (Int, Int) -> Void) {
        if batch < blasThreads {
            for n in 0..<batch { body(n, blasThreads) }
        } else {
            parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
                for n in images { body(n, 1) }
            }
        }
    }

    /// One image (groups == 1), its output rows split into one band per
    /// thread: im2col of the band, then W * col into the band's columns.
    static func conv2dBands(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, geometry g: ConvGeometry, outChannels: Int, activation: Activation?
    ) {
        let ow = g.outWidth, l = g.colCols, k = g.colRows
        let chunks = Swift.min(blasThreads, g.outHeight)
        if g.strideH == 1 && g.strideW == 1 {
            let xp = UnsafeMutablePointer<Float>.allocate(capacity: paddedImageCount(g))
            defer { xp.deallocate() }
            paddedImage(x, g, xp)
            parallelChunks(g.outHeight, chunks: chunks) { _, rows in
                conv2dStride1Rows(padded: xp, weight: weight, bias: bias, out: out, geometry: g,
                                  outChannels: outChannels, activation: activation, rows: rows)
            }
            return
        }
        parallelChunks(g.outHeight, chunks: chunks) { _, rows in
            let cols = rows.count * ow
            let col = UnsafeMutablePointer<Float>.allocate(capacity: k * cols)
            defer { col.deallocate() }
            im2col(x, g, col, rows: rows)
            let c = out + rows.lowerBound * ow
            if let bias {
                for co in 0..<outChannels { (c + co * l).update(repeating: bias[co], count: cols) }
            }
            gemm(transA: false, transB: false, m: outChannels, n: cols, k: k, a: weight, lda: k, b: col, ldb: cols,
                 beta: bias == nil ? 0 : 1, c: c, ldc: l)
            if let activation {
                for co in 0..<outChannels { activationForward(activation, c + co * l, c + co * l, cols) }
            }
        }
    }

    /// Gradients of `conv2dForward` given gradOut[N, outC, oh, ow]:
    /// gradInput[N, C, H, W], gradWeight[outC, C/groups, kh, kw], gradBias[outC].
    /// im2col is recomputed per image rather than kept from forward (a 9x copy
    /// of the input for 3x3 kernels, for every layer, until backward).
    public static func conv2dBackward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, geometry g: ConvGeometry, outChannels: Int, groups: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        // 3x3 stride 1: gradInput is itself a 3x3 stride-1 convolution of
        // gradOut with the flipped, transposed filters and padding 2 - p, so it
        // goes through `conv2dForward` (Winograd when the channels allow).
        if let gradInput, let t = transposedGeometry(g, outChannels: outChannels, groups: groups) {
            let cin = g.channels, count = batch * cin * g.inputPlane
            let flipped = UnsafeMutablePointer<Float>.allocate(capacity: outChannels * cin * 9)
            let dx = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer {
                flipped.deallocate()
                dx.deallocate()
            }
            for o in 0..<outChannels {
                for c in 0..<cin {
                    for k in 0..<9 { flipped[(c * outChannels + o) * 9 + k] = weight[(o * cin + c) * 9 + 8 - k] }
                }
            }
            conv2dForward(x: gradOut, weight: flipped, bias: nil, out: dx, batch: batch, geometry: t, outChannels: cin)
            accumulate(dx, into: gradInput, count)
            if gradWeight != nil || gradBias != nil {
                conv2dBackward(x: x, weight: weight, gradOut: gradOut, batch: batch, geometry: g, outChannels: outChannels,
                               gradInput: nil, gradWeight: gradWeight, gradBias: gradBias)
            }
            return
        }
        let l = g.colCols, plane = g.inputPlane
        let coutG = outChannels / groups, kG = (g.channels / groups) * g.kernelH * g.kernelW
        let pointwise = g.isPointwise
        let chunks = chunkCount(batch)
        let dW = ChunkAccumulators(target: gradWeight, count: outChannels * kG, chunks: chunks)
        let dB = ChunkAccumulators(target: gradBias, count: outChannels, chunks: chunks)
        parallelChunks(batch, chunks: chunks) { chunk, images in
            let gradWeight = dW.pointer(chunk), gradBias = dB.pointer(chunk)
            // col: im2col of the input (for gradWeight); dcol: gradient of col (for gradInput).
            let col = (!pointwise && gradWeight != nil) ? UnsafeMutablePointer<Float>.allocate(capacity: g.colRows * l) : nil
            let dcol = (!pointwise && gradInput != nil) ? UnsafeMutablePointer<Float>.allocate(capacity: g.colRows * l) : nil
            defer { col?.deallocate(); dcol?.deallocate() }
            for n in images {
                let xn = x + n * g.channels * plane
                let gn = gradOut + n * outChannels * l
                if let gradBias {
                    for co in 0..<outChannels { gradBias[co] += sum(gn + co * l, l) }
                }
                if let gradWeight {
                    let cols: UnsafePointer<Float>
                    if let col { im2col(xn, g, col); cols = UnsafePointer(col) } else { cols = xn }
                    for k in 0..<groups {
                        // dW_k[coutG, kG] += gradOut_k[coutG, l] * col_k[kG, l]^T
                        gemm(transA: false, transB: true, m: coutG, n: kG, k: l,
                             a: gn + k * coutG * l, lda: l, b: cols + k * kG * l, ldb: l,
                             beta: 1, c: gradWeight + k * coutG * kG, ldc: kG)
                    }
                }
                if let gradInput {
                    let dxn = gradInput + n * g.channels * plane
                    // dcol_k[kG, l] = W_k[coutG, kG]^T * gradOut_k[coutG, l]
                    let target = dcol ?? dxn
                    for k in 0..<groups {
                        gemm(transA: true, transB: false, m: kG, n: l, k: coutG,
                             a: weight + k * coutG * kG, lda: kG, b: gn + k * coutG * l, ldb: l,
                             beta: dcol == nil ? 1 : 0, c: target + k * kG * l, ldc: l)
                    }
                    if let dcol { col2im(dcol, g, dxn) }
                }
            }
        }
        dW.finish(chunks: chunks)
        dB.finish(chunks: chunks)
    }
}

extension Kernels {
    /// The geometry of gradInput = conv(gradOut, flipped filters) for a 3x3
    /// stride-1 convolution whose Winograd path applies to that product; nil
    /// otherwise (other sizes keep the im2col backward).
    static func transposedGeometry(_ g: ConvGeometry, outChannels: Int, groups: Int) -> ConvGeometry? {
        guard g.kernelH == 3, g.kernelW == 3, g.strideH == 1, g.strideW == 1, groups == 1,
              [g.padTop, g.padBottom, g.padLeft, g.padRight].allSatisfy({ $0 <= 2 }) else { return nil }
        let t = ConvGeometry(channels: outChannels, height: g.outHeight, width: g.outWidth, kernelH: 3, kernelW: 3,
                             padTop: 2 - g.padTop, padBottom: 2 - g.padBottom, padLeft: 2 - g.padLeft, padRight: 2 - g.padRight)
        return winogradApplies(t, outChannels: g.channels, groups: 1) ? t : nil
    }
}

// MARK: - Plain references, for tests

extension Kernels {
    /// Direct seven-loop convolution with the contract of `conv2dForward` (Double accumulation).
    public static func conv2dReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry, outChannels: Int, groups: Int = 1
    ) {
        let cinG = g.channels / groups, coutG = outChannels / groups
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<batch {
            for co in 0..<outChannels {
                let grp = co / coutG
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s = Double(bias?[co] ?? 0)
                        for cg in 0..<cinG {
                            let ci = grp * cinG + cg
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                                    guard iy >= 0 && iy < g.height && ix >= 0 && ix < g.width else { continue }
                                    let xv = x[((n * g.channels + ci) * g.height + iy) * g.width + ix]
                                    let wv = weight[((co * cinG + cg) * g.kernelH + ki) * g.kernelW + kj]
                                    s += Double(xv) * Double(wv)
                                }
                            }
                        }
                        out[((n * outChannels + co) * oh + oy) * ow + ox] = Float(s)
                    }
                }
            }
        }
    }

    /// Direct-loop gradients with the contract of `conv2dBackward` (accumulating).
    public static func conv2dBackwardReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, geometry g: ConvGeometry, outChannels: Int, groups: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        let cinG = g.channels / groups, coutG = outChannels / groups
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<batch {
            for co in 0..<outChannels {
                let grp = co / coutG
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let go = gradOut[((n * outChannels + co) * oh + oy) * ow + ox]
                        gradBias?[co] += go
                        for cg in 0..<cinG {
                            let ci = grp * cinG + cg
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let iy = oy * g.strideH - g.padTop + ki, ix = ox * g.strideW - g.padLeft + kj
                                    guard iy >= 0 && iy < g.height && ix >= 0 && ix < g.width else { continue }
                                    let xi = ((n * g.channels + ci) * g.height + iy) * g.width + ix
                                    let wi = ((co * cinG + cg) * g.kernelH + ki) * g.kernelW + kj
                                    gradInput?[xi] += go * weight[wi]
                                    gradWeight?[wi] += go * x[xi]
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
