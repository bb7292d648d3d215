/// Depthwise convolution (groups == in channels) by direct loops: every
/// output channel is one input plane convolved with one kh x kw filter, which
/// is too little work per channel for im2col + gemm to pay. Output channel co
/// reads input channel co / multiplier (PyTorch's out_channels = k * in_channels).
/// Rows are axpy (forward, gradInput) and dot (gradWeight) over contiguous
/// segments when the horizontal stride is 1. Images are split across threads.
/// The reference is `conv2dReference` with groups == channels.
extension Kernels {
    /// out[N, C*m, oh, ow] = depthwise(x[N, C, H, W], weight[C*m, 1, kh, kw]) + bias[C*m].
    public static func depthwiseForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry, multiplier m: Int = 1
    ) {
        let cout = g.channels * m
        parallelChunks(batch, chunks: chunkCount(batch)) { _, images in
            for n in images {
                for co in 0..<cout {
                    depthwisePlaneForward(
                        x + (n * g.channels + co / m) * g.inputPlane, weight + co * g.kernelH * g.kernelW,
                        bias?[co] ?? 0, out + (n * cout + co) * g.outputPlane, g)
                }
            }
        }
    }

    /// Gradients of `depthwiseForward` given gradOut[N, C*m, oh, ow], added into
    /// gradInput[N, C, H, W], gradWeight[C*m, 1, kh, kw], gradBias[C*m].
    public static func depthwiseBackward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        batch: Int, geometry g: ConvGeometry, multiplier m: Int = 1,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?
    ) {
        let cout = g.channels * m, kk = g.kernelH * g.kernelW
        let chunks = chunkCount(batch)
        let dW = ChunkAccumulators(target: gradWeight, count: cout * kk, chunks: chunks)
        let dB = ChunkAccumulators(target: gradBias, count: cout, chunks: chunks)
        parallelChunks(batch, chunks: chunks) { chunk, images in
            let gradWeight = dW.pointer(chunk), gradBias = dB.pointer(chunk)
            for n in images {
                for co in 0..<cout {
                    let inPlane = (n * g.channels + co / m) * g.inputPlane
                    let go = gradOut + (n * cout + co) * g.outputPlane
                    if let gradBias { gradBias[co] += sum(go, g.outputPlane) }
                    depthwisePlaneBackward(
                        x + inPlane, weight + co * kk, go, gradInput.map { $0 + inPlane }, gradWeight.map { $0 + co * kk }, g)
                }
            }
        }
        dW.finish(chunks: chunks)
        dB.finish(chunks: chunks)
    }

    /// One plane: dst[oh, ow] = bias + sum over taps of w[ki, kj] * src[oy*s - pt + ki, ox*s - pl + kj].
    @inline(__always)
    static func depthwisePlaneForward(
        _ src: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: Float, _ dst: UnsafeMutablePointer<Float>,
        _ g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, width = g.width, sh = g.strideH, sw = g.strideW
        dst.update(repeating: bias, count: oh * ow)
        for ki in 0..<g.kernelH {
            let (oyLo, oyHi) = ConvGeometry.validRange(n: g.height, out: oh, stride: sh, pad: g.padTop, k: ki)
            for kj in 0..<g.kernelW {
                let (oxLo, oxHi) = ConvGeometry.validRange(n: width, out: ow, stride: sw, pad: g.padLeft, k: kj)
                let cnt = oxHi - oxLo
                if cnt == 0 { continue }
                let wv = w[ki * g.kernelW + kj]
                for oy in oyLo..<oyHi {
                    let s = src + (oy * sh - g.padTop + ki) * width + (oxLo * sw - g.padLeft + kj)
                    let d = dst + oy * ow + oxLo
                    if sw == 1 {
                        axpy(wv, s, d, cnt)
                    } else {
                        for i in 0..<cnt { d[i] += wv * s[i * sw] }
                    }
                }
            }
        }
    }

    /// One plane's backward: dx += w-weighted scatter of go, dw[tap] += <go, shifted x>.
    @inline(__always)
    static func depthwisePlaneBackward(
        _ xs: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ go: UnsafePointer<Float>,
        _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?, _ g: ConvGeometry
    ) {
        let oh = g.outHeight, ow = g.outWidth, width = g.width, sh = g.strideH, sw = g.strideW
        for ki in 0..<g.kernelH {
            let (oyLo, oyHi) = ConvGeometry.validRange(n: g.height, out: oh, stride: sh, pad: g.padTop, k: ki)
            for kj in 0..<g.kernelW {
                let (oxLo, oxHi) = ConvGeometry.validRange(n: width, out: ow, stride: sw, pad: g.padLeft, k: kj)
                let cnt = oxHi - oxLo
                if cnt == 0 { continue }
                let tap = ki * g.kernelW + kj
                let wv = w[tap]
                var acc: Float = 0
                for oy in oyLo..<oyHi {
                    let off = (oy * sh - g.padTop + ki) * width + (oxLo * sw - g.padLeft + kj)
                    let gseg = go + oy * ow + oxLo
                    if sw == 1 {
                        if dw != nil { acc += dot(gseg, xs + off, cnt) }
                        if let dx { axpy(wv, gseg, dx + off, cnt) }
                    } else {
                        if dw != nil { for i in 0..<cnt { acc += gseg[i] * xs[off + i * sw] } }
                        if let dx { for i in 0..<cnt { dx[off + i * sw] += wv * gseg[i] } }
                    }
                }
                dw?[tap] += acc
            }
        }
    }
}
