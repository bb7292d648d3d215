/// Depthwise convolution (groups == in channels) by direct loops: every
/// output channel is one input plane convolved with one kh x kw filter, which
/// is too little work per channel for im2col + gemm to pay. Output channel co
/// reads input channel co / multiplier (PyTorch's out_channels = k * in_channels).
/// Rows are axpy (forward, gradInput) and dot (gradWeight) over contiguous
/// segments when the horizontal stride is 1.
extension Kernels {
    /// out[N, C*m, oh, ow] = depthwise(x[N, C, H, W], weight[C*m, 1, kh, kw]) + bias[C*m].
    public static func depthwiseForward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        out: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvGeometry, multiplier m: Int = 1
    ) {
        let oh = g.outHeight, ow = g.outWidth, l = oh * ow, plane = g.inputPlane
        let cout = g.channels * m, kk = g.kernelH * g.kernelW
        let sh = g.strideH, sw = g.strideW, w = g.width
        for n in 0..<batch {
            for co in 0..<cout {
                let src = x + (n * g.channels + co / m) * plane
                let dst = out + (n * cout + co) * l
                dst.update(repeating: bias?[co] ?? 0, count: l)
                let wc = weight + co * kk
                for ki in 0..<g.kernelH {
                    let (oyLo, oyHi) = ConvGeometry.validRange(n: g.height, out: oh, stride: sh, pad: g.padTop, k: ki)
                    for kj in 0..<g.kernelW {
                        let (oxLo, oxHi) = ConvGeometry.validRange(n: w, out: ow, stride: sw, pad: g.padLeft, k: kj)
                        let cnt = oxHi - oxLo
                        if cnt == 0 { continue }
                        let wv = wc[ki * g.kernelW + kj]
                        for oy in oyLo..<oyHi {
                            let s = src + (oy * sh - g.padTop + ki) * w + (oxLo * sw - g.padLeft + kj)
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
        let oh = g.outHeight, ow = g.outWidth, l = oh * ow, plane = g.inputPlane
        let cout = g.channels * m, kk = g.kernelH * g.kernelW
        let sh = g.strideH, sw = g.strideW, w = g.width
        for n in 0..<batch {
            for co in 0..<cout {
                let xs = x + (n * g.channels + co / m) * plane
                let dx = gradInput.map { $0 + (n * g.channels + co / m) * plane }
                let go = gradOut + (n * cout + co) * l
                if let gradBias { gradBias[co] += sum(go, l) }
                for ki in 0..<g.kernelH {
                    let (oyLo, oyHi) = ConvGeometry.validRange(n: g.height, out: oh, stride: sh, pad: g.padTop, k: ki)
                    for kj in 0..<g.kernelW {
                        let (oxLo, oxHi) = ConvGeometry.validRange(n: w, out: ow, stride: sw, pad: g.padLeft, k: kj)
                        let cnt = oxHi - oxLo
                        if cnt == 0 { continue }
                        let wi = co * kk + ki * g.kernelW + kj
                        let wv = weight[wi]
                        var dw: Float = 0
                        for oy in oyLo..<oyHi {
                            let off = (oy * sh - g.padTop + ki) * w + (oxLo * sw - g.padLeft + kj)
                            let gseg = go + oy * ow + oxLo
                            if sw == 1 {
                                if gradWeight != nil { dw += dot(gseg, xs + off, cnt) }
                                if let dx { axpy(wv, gseg, dx + off, cnt) }
                            } else {
                                if gradWeight != nil { for i in 0..<cnt { dw += gseg[i] * xs[off + i * sw] } }
                                if let dx { for i in 0..<cnt { dx[off + i * sw] += wv * gseg[i] } }
                            }
                        }
                        gradWeight?[wi] += dw
                    }
                }
            }
        }
    }
}
