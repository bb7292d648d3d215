import DLKernels
import DLTensor

/// One step of an `InferencePlan`: an operation from input buffers to an
/// output buffer (buffer ids index `Workspace.buffers`; sizes are per batch row).
struct Step: CustomStringConvertible {
    enum Op {
        /// Convolution (groups == 1) with folded batch norm and a fused activation.
        /// `packed`: the weights as the kernel's path wants them (`Kernels.packFilters`), computed once.
        /// `residual`: the second input is added before the activation (a fused residual add).
        case conv(weight: [Float], bias: [Float]?, geometry: ConvGeometry, outChannels: Int, activation: Kernels.Activation?,
                  packed: [Float]?, residual: Bool)
        /// x W^T + b over rows of `inFeatures`, with folded batch norm and a fused activation.
        case dense(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, activation: Kernels.Activation?)
        /// Batch norm with running statistics on [C, S] rows, then an optional activation.
        case batchNorm(mean: [Float], rstd: [Float], gamma: [Float], beta: [Float], channels: Int, spatial: Int,
                       activation: Kernels.Activation?)
        case activation(Kernels.Activation)
        /// Sum of the inputs, then an optional activation.
        case add(activation: Kernels.Activation?)
        case maxPool(ConvGeometry)
        case avgPool(ConvGeometry)
        case globalAvgPool(channels: Int, size: Int)
        /// Any other layer, through its own forward.
        case layer(Layer, inputShapes: [[Int]])
    }

    let op: Op
    let inputs: [Int]
    let output: Int
    /// Values per batch row of each input and of the output.
    let inputSizes: [Int]
    let outputSize: Int
    let outputShape: [Int]
    /// The graph nodes this step computes, first to last.
    let nodes: [String]

    var description: String {
        let kind: String
        switch op {
        case .conv(_, _, let g, let c, let f, _, let r):
            kind = "conv \(g.kernelH)x\(g.kernelW)/\(g.strideH) -> \(c)" + (r ? " + add" : "") + Self.act(f)
                + " (\(Kernels.convPath(g, outChannels: c, groups: 1)))"
        case .dense(_, _, let i, let o, let f): kind = "dense \(i) -> \(o)" + Self.act(f)
        case .batchNorm(_, _, _, _, _, _, let f): kind = "batch_norm" + Self.act(f)
        case .activation(let f): kind = "\(f)"
        case .add(let f): kind = "add" + Self.act(f)
        case .maxPool: kind = "max_pool"
        case .avgPool: kind = "avg_pool"
        case .globalAvgPool: kind = "global_avg_pool"
        case .layer(let l, _): kind = "layer \(type(of: l))"
        }
        return "\(nodes.joined(separator: "+")): \(kind) \(outputShape)"
    }

    private static func act(_ f: Kernels.Activation?) -> String { f.map { " + \($0)" } ?? "" }

    /// Multiply-adds per batch row of the direct computation (convolution, dense).
    var multiplyAdds: Int {
        switch op {
        case .conv(_, _, let g, let c, _, _, _): return c * g.colRows * g.colCols
        case .dense(_, _, let i, let o, _): return inputSizes[0] / i * i * o
        default: return 0
        }
    }


    func run(batch n: Int, _ ws: Workspace) {
        let y = ws.buffers[output]
        let x = UnsafePointer(ws.buffers[inputs[0]])
        switch op {
        case .conv(let weight, let bias, let g, let outChannels, let f, let packed, let residual):
            weight.withUnsafeBufferPointer { w in
                withOptionalPointer(bias) { b in
                    withOptionalPointer(packed) { u in
                        Kernels.conv2dForward(x: x, weight: w.baseAddress!, bias: b, out: y, batch: n, geometry: g,
                                              outChannels: outChannels, activation: f, packedFilters: u,
                                              residual: residual ? UnsafePointer(ws.buffers[inputs[1]]) : nil)
                    }
                }
            }
        case .dense(let weight, let bias, let inF, let outF, let f):
            let rows = n * inputSizes[0] / inF
            weight.withUnsafeBufferPointer { w in
                withOptionalPointer(bias) { b in
                    Kernels.linearForward(x: x, weight: w.baseAddress!, bias: b, y: y, n: rows, inFeatures: inF, outFeatures: outF)
                }
            }
            if let f { Kernels.activationForward(f, y, y, n * outputSize) }
        case .batchNorm(let mean, let rstd, let gamma, let beta, let c, let s, let f):
            Kernels.batchNormNormalize(x, y, n: n, c: c, s: s, mean: mean, rstd: rstd, gamma: gamma, beta: beta)
            if let f { Kernels.activationForward(f, y, y, n * outputSize) }
        case .activation(let f):
            Kernels.activationForward(f, x, y, n * outputSize)
        case .add(let f):
            let count = n * outputSize
            Kernels.elementwiseSum(x, ws.buffers[inputs[1]], y, count)
            for extra in inputs.dropFirst(2) { Kernels.elementwiseSum(y, ws.buffers[extra], y, count) }
            if let f { Kernels.activationForward(f, y, y, count) }
        case .maxPool(let g):
            let planes = n * g.channels
            Kernels.maxPoolForward(x: x, out: y, argmax: ws.indices(planes * g.outputPlane), planes: planes, geometry: g)
        case .avgPool(let g):
            Kernels.avgPoolForward(x: x, out: y, planes: n * g.channels, geometry: g)
        case .globalAvgPool(let c, let size):
            Kernels.globalAvgPoolForward(x: x, out: y, planes: n * c, size: size)
        case .layer(let layer, let shapes):
            let ins = zip(inputs, zip(inputSizes, shapes)).map { buffer, size in
                Tensor(shape: [n] + size.1, data: [Float](UnsafeBufferPointer(start: ws.buffers[buffer], count: n * size.0)))
            }
            let out = GradMode.withoutGrad { layer(ins, .inference()) }
            precondition(out.count == n * outputSize, "InferencePlan: \(nodes) returned \(out.shape)")
            out.data.withUnsafeBufferPointer { y.update(from: $0.baseAddress!, count: $0.count) }
        }
    }
}
