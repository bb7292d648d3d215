/// Batched transpose convolution over NCHW tensors, PyTorch's
/// ConvTranspose2d: the adjoint of `conv2dForward` in its input. Forward is a
/// gemm into the column matrix and col2im; backward is im2col of the output
/// gradient and two gemms. Weight layout [in, out/groups, kh, kw]. Every
/// backward *adds* into the gradient buffers it is given (nil = not wanted).
extension Kernels {
    /// Transpose convolution (the adjoint of `conv2dForward` in x, plus bias):
    /// out[N, outC, OH, OW] from x[N, inC, H, W] and weight[inC, outC/groups, kh, kw].
    /// `g` describes the *output* image seen as a convolution input
    /// (channels outC, size OH x OW, the kernel, stride and padding), so that
    /// g.outHeight x g.outWidth == H x W.
    public static func convTranspose2dForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, inChannels: Int, geometry g: ConvGeometry, groups: Int = 1
    ) {
        let outChannels = g.channels
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "convTranspose2dForward: groups \(groups) must divide in \(inChannels) and out \(outChannels) channels")
        let l = g.colCols, oplane = g.inputPlane
        let cinG = inChannels / groups, kG = (outChannels / groups) * g.kernelH * g.kernelW
        let pointwise = g.isPointwise
        parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
            let col = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: g.colRows * l)
            defer { col?.deallocate() }
            for n in images {
                let xn = x + n * inChannels * l
                let on = out + n * outChannels * oplane
                if let bias {
                    for co in 0..<outChannels { (on + co * oplane).update(repeating: bias[co], count: oplane) }
                } else {
                    on.update(repeating: 0, count: outChannels * oplane)
                }
                let target = col ?? on
                for k in 0..<groups {
                    // col_k[kG, l] = W_k[cinG, kG]^T * x_k[cinG, l]
                    gemm(transA: true, transB: false, m: kG, n: l, k: cinG,
                         a: weight + k * cinG * kG, lda: kG, b: xn + k * cinG * l, ldb: l,
                         beta: col == nil ? 1 : 0, c: target + k * kG * l, ldc: l)
                }
                if let col { col2im(col, g, on) }
            }
        }
    }

    /// Gradients of `convTranspose2dForward` given gradOut[N, outC, OH, OW]:
    /// gradInput[N, inC, H, W], gradWeight[inC, outC/groups, kh, kw], gradBias[outC].
    public static func convTranspose2dBackward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, inChannels: Int, geometry g: ConvGeometry, groups: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        let outChannels = g.channels
        let l = g.colCols, oplane = g.inputPlane
        let cinG = inChannels / groups, kG = (outChannels / groups) * g.kernelH * g.kernelW
        let pointwise = g.isPointwise
        let chunks = chunkCount(batch)
        let dW = ChunkAccumulators(target: gradWeight, count: inChannels * kG, chunks: chunks)
        let dB = ChunkAccumulators(target: gradBias, count: outChannels, chunks: chunks)
        parallelChunks(batch, chunks: chunks) { chunk, images in
            let gradWeight = dW.pointer(chunk), gradBias = dB.pointer(chunk)
            let col = pointwise || (gradInput == nil && gradWeight == nil)
                ? nil : UnsafeMutablePointer<Float>.allocate(capacity: g.colRows * l)
            defer { col?.deallocate() }
            for n in images {
                let xn = x + n * inChannels * l
                let gn = gradOut + n * outChannels * oplane
                if let gradBias {
                    for co in 0..<outChannels { gradBias[co] += sum(gn + co * oplane, oplane) }
                }
                if gradInput == nil && gradWeight == nil { continue }
                let cols: UnsafePointer<Float>
                if let col { im2col(gn, g, col); cols = UnsafePointer(col) } else { cols = gn }
                for k in 0..<groups {
                    if let gradInput {
                        // dx_k[cinG, l] += W_k[cinG, kG] * col_k[kG, l]
                        gemm(transA: false, transB: false, m: cinG, n: l, k: kG,
                             a: weight + k * cinG * kG, lda: kG, b: cols + k * kG * l, ldb: l,
                             beta: 1, c: gradInput + n * inChannels * l + k * cinG * l, ldc: l)
                    }
                    if let gradWeight {
                        // dW_k[cinG, kG] += x_k[cinG, l] * col_k[kG, l]^T
                        gemm(transA: false, transB: true, m: cinG, n: kG, k: l,
                             a: xn + k * cinG * l, lda: l, b: cols + k * kG * l, ldb: l,
                             beta: 1, c: gradWeight + k * cinG * kG, ldc: kG)
                    }
                }
            }
        }
        dW.finish(chunks: chunks)
        dB.finish(chunks: chunks)
    }
}

// MARK: - Plain reference, for tests

extension Kernels {
    /// Direct scatter form of transpose convolution with the contract of
    /// `convTranspose2dForward`: each input pixel adds weight * value into the
    /// output window it maps to.
    public static func convTranspose2dReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, inChannels: Int, geometry g: ConvGeometry, groups: Int = 1
    ) {
        let outChannels = g.channels
        let cinG = inChannels / groups, coutG = outChannels / groups
        let h = g.outHeight, w = g.outWidth, oH = g.height, oW = g.width
        for n in 0..<batch {
            for co in 0..<outChannels {
                for i in 0..<(oH * oW) { out[(n * outChannels + co) * oH * oW + i] = bias?[co] ?? 0 }
            }
            for ci in 0..<inChannels {
                let grp = ci / cinG
                for iy in 0..<h {
                    for ix in 0..<w {
                        let xv = x[((n * inChannels + ci) * h + iy) * w + ix]
                        for cg in 0..<coutG {
                            let co = grp * coutG + cg
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let oy = iy * g.strideH - g.padTop + ki, ox = ix * g.strideW - g.padLeft + kj
                                    guard oy >= 0 && oy < oH && ox >= 0 && ox < oW else { continue }
                                    let wv = weight[((ci * coutG + cg) * g.kernelH + ki) * g.kernelW + kj]
                                    out[((n * outChannels + co) * oH + oy) * oW + ox] += xv * wv
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Direct-loop gradients with the contract of `convTranspose2dBackward` (accumulating).
    public static func convTranspose2dBackwardReference(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, inChannels: Int, geometry g: ConvGeometry, groups: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        let outChannels = g.channels
        let cinG = inChannels / groups, coutG = outChannels / groups
        let h = g.outHeight, w = g.outWidth, oH = g.height, oW = g.width
        for n in 0..<batch {
            if let gradBias {
                for co in 0..<outChannels {
                    for i in 0..<(oH * oW) { gradBias[co] += gradOut[(n * outChannels + co) * oH * oW + i] }
                }
            }
            for ci in 0..<inChannels {
                let grp = ci / cinG
                for iy in 0..<h {
                    for ix in 0..<w {
                        let xi = ((n * inChannels + ci) * h + iy) * w + ix
                        for cg in 0..<coutG {
                            let co = grp * coutG + cg
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let oy = iy * g.strideH - g.padTop + ki, ox = ix * g.strideW - g.padLeft + kj
                                    guard oy >= 0 && oy < oH && ox >= 0 && ox < oW else { continue }
                                    let wi = ((ci * coutG + cg) * g.kernelH + ki) * g.kernelW + kj
                                    let go = gradOut[((n * outChannels + co) * oH + oy) * oW + ox]
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
