import DLKernels
import DLTensor
import DLTesting
import XCTest

/// The fast convolution and pooling kernels against their plain references.
final class ConvKernelTests: XCTestCase {
    /// Geometries with asymmetric padding, strides 1..3, rectangular kernels.
    let geometries: [ConvGeometry] = [
        ConvGeometry(channels: 3, height: 7, width: 7, kernelH: 3, kernelW: 3),
        ConvGeometry(channels: 2, height: 8, width: 8, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 0, padBottom: 1, padLeft: 0, padRight: 1),
        ConvGeometry(channels: 2, height: 9, width: 6, kernelH: 2, kernelW: 3, strideH: 1, strideW: 2, padTop: 2, padBottom: 0, padLeft: 1, padRight: 2),
        ConvGeometry(channels: 4, height: 5, width: 11, kernelH: 5, kernelW: 1, strideH: 3, strideW: 1, padTop: 1, padBottom: 3, padLeft: 0, padRight: 0),
        ConvGeometry(channels: 1, height: 4, width: 4, kernelH: 4, kernelW: 4, strideH: 1, strideW: 1, padTop: 3, padBottom: 3, padLeft: 3, padRight: 3),
        ConvGeometry(channels: 3, height: 6, width: 5, kernelH: 1, kernelW: 1),
        ConvGeometry(channels: 3, height: 6, width: 5, kernelH: 1, kernelW: 1, strideH: 2, strideW: 2),
        // Rows of 8+ outputs: the SIMD paths of the depthwise kernel (strides 1 and 2, vector + tail).
        ConvGeometry(channels: 3, height: 9, width: 37, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
        ConvGeometry(channels: 2, height: 7, width: 21, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padTop: 0, padBottom: 1, padLeft: 1, padRight: 0),
        ConvGeometry(channels: 2, height: 6, width: 19, kernelH: 5, kernelW: 4, strideH: 2, strideW: 1, padTop: 2, padBottom: 2, padLeft: 2, padRight: 1),
        ConvGeometry(channels: 2, height: 5, width: 40, kernelH: 2, kernelW: 3, strideH: 1, strideW: 3, padTop: 1, padBottom: 0, padLeft: 0, padRight: 2),
    ]

    func randoms(_ n: Int, _ rng: inout SeededGenerator) -> [Float] { Tensor.normal([n], std: 1, rng: &rng).data }

    func testIm2ColAndCol2ImMatchReferences() {
        var rng = SeededGenerator(seed: 10)
        for g in geometries {
            let x = randoms(g.channels * g.inputPlane, &rng)
            var fast = [Float](repeating: .nan, count: g.colRows * g.colCols), slow = fast
            Kernels.im2col(x, g, &fast)
            Kernels.im2colReference(x, g, &slow)
            XCTAssertEqual(fast, slow, "im2col \(g)")

            let col = randoms(g.colRows * g.colCols, &rng)
            var a = randoms(x.count, &rng), b = a
            Kernels.col2im(col, g, &a)
            Kernels.col2imReference(col, g, &b)
            assertClose(a, b, rtol: 1e-6, atol: 1e-6, "col2im \(g)")

            // col2im is the adjoint of im2col: <im2col(x), c> == <x, col2im(c)>.
            var back = [Float](repeating: 0, count: x.count)
            Kernels.col2im(col, g, &back)
            let lhs = zip(fast, col).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-3 * max(1, abs(lhs)), "adjoint \(g)")
        }
    }

    func testConvForwardAndBackwardMatchReferences() {
        var rng = SeededGenerator(seed: 11)
        for g in geometries {
            for (outC, groups) in [(4, 1), (2 * g.channels, g.channels), (g.channels == 4 ? 6 : 5, g.channels == 4 ? 2 : 1)] {
                let n = 2, kG = g.channels / groups * g.kernelH * g.kernelW
                let x = randoms(n * g.channels * g.inputPlane, &rng)
                let w = randoms(outC * kG, &rng), b = randoms(outC, &rng)
                let count = n * outC * g.outputPlane
                var fast = [Float](repeating: .nan, count: count), slow = fast
                Kernels.conv2dForward(x: x, weight: w, bias: b, out: &fast, batch: n, geometry: g, outChannels: outC, groups: groups)
                Kernels.conv2dReference(x: x, weight: w, bias: b, out: &slow, batch: n, geometry: g, outChannels: outC, groups: groups)
                assertClose(fast, slow, rtol: 1e-4, atol: 1e-4, "conv forward \(g) out \(outC) groups \(groups)")
                Kernels.conv2dForward(x: x, weight: w, bias: nil, out: &fast, batch: n, geometry: g, outChannels: outC, groups: groups)
                Kernels.conv2dReference(x: x, weight: w, bias: nil, out: &slow, batch: n, geometry: g, outChannels: outC, groups: groups)
                assertClose(fast, slow, rtol: 1e-4, atol: 1e-4, "conv forward no bias \(g)")

                let gy = randoms(count, &rng)
                var gx1 = [Float](repeating: 0.5, count: x.count), gx2 = gx1
                var gw1 = [Float](repeating: 0.5, count: w.count), gw2 = gw1
                var gb1 = [Float](repeating: 0.5, count: outC), gb2 = gb1
                Kernels.conv2dBackward(x: x, weight: w, gradOut: gy, batch: n, geometry: g, outChannels: outC, groups: groups,
                                       gradInput: &gx1, gradWeight: &gw1, gradBias: &gb1)
                Kernels.conv2dBackwardReference(x: x, weight: w, gradOut: gy, batch: n, geometry: g, outChannels: outC, groups: groups,
                                                gradInput: &gx2, gradWeight: &gw2, gradBias: &gb2)
                assertClose(gx1, gx2, rtol: 1e-4, atol: 1e-4, "conv gradInput \(g) groups \(groups)")
                assertClose(gw1, gw2, rtol: 1e-4, atol: 1e-4, "conv gradWeight \(g) groups \(groups)")
                assertClose(gb1, gb2, rtol: 1e-4, atol: 1e-4, "conv gradBias \(g) groups \(groups)")

                if groups == g.channels {
                    // The depthwise kernel is the grouped convolution with groups == channels.
                    var dw = [Float](repeating: .nan, count: count)
                    Kernels.depthwiseForward(x: x, weight: w, bias: b, out: &dw, batch: n, geometry: g, multiplier: outC / g.channels)
                    Kernels.conv2dReference(x: x, weight: w, bias: b, out: &slow, batch: n, geometry: g, outChannels: outC, groups: groups)
                    assertClose(dw, slow, rtol: 1e-4, atol: 1e-4, "depthwise forward \(g)")
                    var dx = [Float](repeating: 0.5, count: x.count), dww = [Float](repeating: 0.5, count: w.count)
                    var db = [Float](repeating: 0.5, count: outC)
                    Kernels.depthwiseBackward(x: x, weight: w, gradOut: gy, batch: n, geometry: g, multiplier: outC / g.channels,
                                              gradInput: &dx, gradWeight: &dww, gradBias: &db)
                    assertClose(dx, gx2, rtol: 1e-4, atol: 1e-4, "depthwise gradInput \(g)")
                    assertClose(dww, gw2, rtol: 1e-4, atol: 1e-4, "depthwise gradWeight \(g)")
                    assertClose(db, gb2, rtol: 1e-4, atol: 1e-4, "depthwise gradBias \(g)")
                }
            }
        }
    }

    /// Batch 1 with two threads splits the output rows into bands (stride 1
    /// through the padded copy, other strides through a banded im2col), and
    /// the activation is applied in the same pass.
    func testBatchOneBandsAcrossThreadsWithAFusedActivation() {
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        Kernels.setBLASThreads(2)
        var rng = SeededGenerator(seed: 12)
        let cases = [
            ConvGeometry(channels: 16, height: 20, width: 20, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 16, height: 21, width: 20, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                         padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 12, height: 15, width: 18, kernelH: 5, kernelW: 3, padTop: 2, padBottom: 1, padLeft: 0, padRight: 2),
        ]
        for g in cases {
            let outC = 32
            let x = randoms(g.channels * g.inputPlane, &rng)
            let w = randoms(outC * g.colRows, &rng), b = randoms(outC, &rng)
            let count = outC * g.outputPlane
            var fast = [Float](repeating: .nan, count: count), slow = fast
            Kernels.conv2dForward(x: x, weight: w, bias: b, out: &fast, batch: 1, geometry: g, outChannels: outC,
                                  activation: .leakyRelu(slope: 0.1))
            Kernels.conv2dReference(x: x, weight: w, bias: b, out: &slow, batch: 1, geometry: g, outChannels: outC)
            let expected = slow.map { $0 > 0 ? $0 : 0.1 * $0 }
            assertClose(fast, expected, rtol: 1e-4, atol: 1e-4, "\(g)")
        }
    }

    /// 3x3 convolutions Winograd does not take (few input channels, stride 2)
    /// with output channels in eights go through the direct kernel: 8 and 16
    /// lanes, rows wider than 16 outputs, odd sizes, asymmetric padding,
    /// fused ReLU and another activation, batch 1 split across threads.
    func testDirectConvolutionMatchesTheReference() {
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        var rng = SeededGenerator(seed: 14)
        let cases: [(ConvGeometry, Int)] = [
            (ConvGeometry(channels: 1, height: 28, width: 28, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), 16),
            (ConvGeometry(channels: 32, height: 28, width: 28, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                          padTop: 1, padBottom: 1, padLeft: 1, padRight: 1), 64),
            (ConvGeometry(channels: 3, height: 13, width: 41, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                          padTop: 0, padBottom: 2, padLeft: 1, padRight: 0), 8),
            (ConvGeometry(channels: 5, height: 9, width: 37, kernelH: 3, kernelW: 3), 24),
        ]
        for threads in [1, 2] {
            Kernels.setBLASThreads(threads)
            for (g, outC) in cases {
                XCTAssertTrue(Kernels.directConvApplies(g, outChannels: outC, groups: 1), "\(g)")
                for (batch, activation) in [(1, Kernels.Activation.relu), (3, .leakyRelu(slope: 0.1))] {
                    let x = randoms(batch * g.channels * g.inputPlane, &rng)
                    let w = randoms(outC * g.colRows, &rng), b = randoms(outC, &rng)
                    let count = batch * outC * g.outputPlane
                    var fast = [Float](repeating: .nan, count: count), slow = fast
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &fast, batch: batch, geometry: g, outChannels: outC,
                                          activation: activation)
                    Kernels.conv2dReference(x: x, weight: w, bias: b, out: &slow, batch: batch, geometry: g, outChannels: outC)
                    var expected = slow
                    Kernels.activationForwardReference(activation, slow, &expected, slow.count)
                    assertClose(fast, expected, rtol: 1e-4, atol: 1e-4, "\(g) batch \(batch) threads \(threads)")
                    // A residual added before the activation (a plan's fused shortcut).
                    let r = randoms(count, &rng)
                    var withResidual = [Float](repeating: .nan, count: count)
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &withResidual, batch: batch, geometry: g,
                                          outChannels: outC, activation: activation, residual: r)
                    let summed = zip(slow, r).map { $0 + $1 }
                    Kernels.activationForwardReference(activation, summed, &expected, summed.count)
                    assertClose(withResidual, expected, rtol: 1e-4, atol: 1e-4, "residual \(g) batch \(batch)")
                    // Filters packed once, as an inference plan does.
                    XCTAssertEqual(Kernels.convPath(g, outChannels: outC, groups: 1), "direct")
                    let packed = Kernels.packFilters(w, geometry: g, outChannels: outC, groups: 1)!
                    var given = [Float](repeating: .nan, count: count)
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &given, batch: batch, geometry: g, outChannels: outC,
                                          activation: activation, packedFilters: packed)
                    XCTAssertEqual(given, fast)
                }
            }
        }
    }

    /// 3x3 stride-1 convolutions with 8+ channels go through Winograd
    /// F(2x2, 3x3): odd and even output sizes, any padding, batch 1 split
    /// across threads and batches split by image, filters given or computed.
    func testWinogradMatchesTheReference() {
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        var rng = SeededGenerator(seed: 13)
        let cases = [
            ConvGeometry(channels: 8, height: 28, width: 28, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 9, height: 11, width: 8, kernelH: 3, kernelW: 3),
            ConvGeometry(channels: 8, height: 14, width: 14, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 12, height: 7, width: 10, kernelH: 3, kernelW: 3, padTop: 2, padBottom: 0, padLeft: 0, padRight: 1),
            // F(4x4, 3x3) on narrow rows: two tile rows to an octet, an odd number of tile rows.
            ConvGeometry(channels: 8, height: 13, width: 15, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 8, height: 9, width: 14, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            // Tile rows longer than a block of 16 tiles (pieces of a row), odd widths.
            ConvGeometry(channels: 8, height: 9, width: 41, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 8, height: 6, width: 36, kernelH: 3, kernelW: 3),
        ]
        for threads in [1, 2] {
            Kernels.setBLASThreads(threads)
            for g in cases {
                XCTAssertTrue(Kernels.winogradApplies(g, outChannels: 10, groups: 1))
                for batch in [1, 3] {
                    let outC = 10
                    let x = randoms(batch * g.channels * g.inputPlane, &rng)
                    let w = randoms(outC * g.colRows, &rng), b = randoms(outC, &rng)
                    let count = batch * outC * g.outputPlane
                    var fast = [Float](repeating: .nan, count: count), slow = fast
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &fast, batch: batch, geometry: g, outChannels: outC,
                                          activation: .relu)
                    Kernels.conv2dReference(x: x, weight: w, bias: b, out: &slow, batch: batch, geometry: g, outChannels: outC)
                    // F(4x4, 3x3) rounds in proportion to the outputs' magnitude
                    // (about 4e-6 of the largest |y| here, F(2x2) 2e-7): the
                    // absolute tolerance is 1e-5 of that scale (0.3 to 0.4 here).
                    let atol = 1e-5 * slow.map { abs($0) }.max()!
                    assertClose(fast, slow.map { max($0, 0) }, rtol: 1e-4, atol: atol, "\(g) batch \(batch) threads \(threads)")
                    // Filters transformed once, as an inference plan does.
                    XCTAssertTrue(Kernels.convPath(g, outChannels: outC, groups: 1).hasPrefix("winograd"))
                    let u = Kernels.packFilters(w, geometry: g, outChannels: outC, groups: 1)!
                    var given = [Float](repeating: .nan, count: count)
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &given, batch: batch, geometry: g, outChannels: outC,
                                          activation: .relu, packedFilters: u)
                    XCTAssertEqual(given, fast)
                    // A residual added before the activation (a plan's fused shortcut).
                    let r = randoms(count, &rng)
                    var withResidual = [Float](repeating: .nan, count: count)
                    Kernels.conv2dForward(x: x, weight: w, bias: b, out: &withResidual, batch: batch, geometry: g,
                                          outChannels: outC, activation: .relu, packedFilters: u, residual: r)
                    assertClose(withResidual, zip(slow, r).map { max($0 + $1, 0) }, rtol: 1e-4, atol: atol,
                                "residual \(g) batch \(batch)")

                    // Backward: gradInput through the flipped filters (Winograd), accumulated.
                    let gy = randoms(count, &rng)
                    let start = randoms(x.count, &rng)
                    var gx = start, gxRef = start
                    var gw = [Float](repeating: 0, count: w.count), gwRef = gw
                    var gb = [Float](repeating: 0, count: outC), gbRef = gb
                    Kernels.conv2dBackward(x: x, weight: w, gradOut: gy, batch: batch, geometry: g, outChannels: outC,
                                           gradInput: &gx, gradWeight: &gw, gradBias: &gb)
                    Kernels.conv2dBackwardReference(x: x, weight: w, gradOut: gy, batch: batch, geometry: g, outChannels: outC,
                                                    gradInput: &gxRef, gradWeight: &gwRef, gradBias: &gbRef)
                    assertClose(gx, gxRef, rtol: 1e-4, atol: 1e-5 * gxRef.map { abs($0) }.max()!, "gradInput \(g) batch \(batch)")
                    assertClose(gw, gwRef, rtol: 1e-4, atol: 1e-4, "gradWeight \(g) batch \(batch)")
                    assertClose(gb, gbRef, rtol: 1e-4, atol: 1e-4, "gradBias \(g) batch \(batch)")
                }
            }
        }
    }

    func testConvTransposeMatchesReference() {
        var rng = SeededGenerator(seed: 12)
        for g in geometries {
            // g is the output image; the input is g.outHeight x g.outWidth.
            for (inC, groups) in [(3, 1), (2 * g.channels, g.channels)] {
                let n = 2, outC = g.channels
                let x = randoms(n * inC * g.outputPlane, &rng)
                let w = randoms(inC * (outC / groups) * g.kernelH * g.kernelW, &rng), b = randoms(outC, &rng)
                let count = n * outC * g.inputPlane
                var fast = [Float](repeating: .nan, count: count), slow = fast
                Kernels.convTranspose2dForward(x: x, weight: w, bias: b, out: &fast, batch: n, inChannels: inC, geometry: g, groups: groups)
                Kernels.convTranspose2dReference(x: x, weight: w, bias: b, out: &slow, batch: n, inChannels: inC, geometry: g, groups: groups)
                assertClose(fast, slow, rtol: 1e-4, atol: 1e-4, "convT forward \(g) groups \(groups)")

                let gy = randoms(count, &rng)
                var gx1 = [Float](repeating: 0, count: x.count), gx2 = gx1
                var gw1 = [Float](repeating: 0, count: w.count), gw2 = gw1
                var gb1 = [Float](repeating: 0, count: outC), gb2 = gb1
                Kernels.convTranspose2dBackward(x: x, weight: w, gradOut: gy, batch: n, inChannels: inC, geometry: g, groups: groups,
                                                gradInput: &gx1, gradWeight: &gw1, gradBias: &gb1)
                Kernels.convTranspose2dBackwardReference(x: x, weight: w, gradOut: gy, batch: n, inChannels: inC, geometry: g, groups: groups,
                                                         gradInput: &gx2, gradWeight: &gw2, gradBias: &gb2)
                assertClose(gx1, gx2, rtol: 1e-4, atol: 1e-4, "convT gradInput \(g)")
                assertClose(gw1, gw2, rtol: 1e-4, atol: 1e-4, "convT gradWeight \(g)")
                assertClose(gb1, gb2, rtol: 1e-4, atol: 1e-4, "convT gradBias \(g)")
            }
        }
    }

    func testPoolingMatchesReferences() {
        var rng = SeededGenerator(seed: 13)
        let pools = [
            ConvGeometry(channels: 1, height: 8, width: 8, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2),
            ConvGeometry(channels: 1, height: 7, width: 9, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 1, height: 7, width: 8, kernelH: 3, kernelW: 2, strideH: 2, strideW: 1, padTop: 1, padBottom: 1, padLeft: 0, padRight: 1),
            ConvGeometry(channels: 1, height: 5, width: 5, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            // 2x2 stride 2 with at least 8 outputs per row takes the SIMD path (ragged and odd sizes).
            ConvGeometry(channels: 1, height: 5, width: 17, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2),
            ConvGeometry(channels: 1, height: 6, width: 37, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2),
        ]
        for (i, g) in pools.enumerated() {
            let planes = 3
            var x = randoms(planes * g.inputPlane, &rng)
            if i >= 4 {
                // Many ties (values rounded to halves), a few NaNs and -inf: PyTorch's rule decides.
                x = x.enumerated().map { j, v in j % 37 == 5 ? .nan : j % 41 == 7 ? -.infinity : (v * 2).rounded() / 2 }
            }
            let count = planes * g.outputPlane
            var a = [Float](repeating: .nan, count: count), b = a
            var ia = [Int32](repeating: -2, count: count), ib = ia
            Kernels.maxPoolForward(x: x, out: &a, argmax: &ia, planes: planes, geometry: g)
            Kernels.maxPoolReference(x: x, out: &b, argmax: &ib, planes: planes, geometry: g)
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "max pool \(g)")
            XCTAssertEqual(ia, ib, "max pool argmax \(g)")
            if i >= 4 { continue }
            Kernels.avgPoolForward(x: x, out: &a, planes: planes, geometry: g)
            Kernels.avgPoolReference(x: x, out: &b, planes: planes, geometry: g)
            assertClose(a, b, rtol: 1e-5, atol: 1e-6, "avg pool \(g)")
        }
    }

    func testMaxPoolTiesPickTheFirstAndNaNWins() {
        // One 2x2 window with a tie between offsets 1 and 2: PyTorch keeps the first.
        let g = ConvGeometry(channels: 1, height: 2, width: 2, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2)
        var out: [Float] = [0], idx: [Int32] = [0]
        Kernels.maxPoolForward(x: [1, 5, 5, 2], out: &out, argmax: &idx, planes: 1, geometry: g)
        XCTAssertEqual(out, [5]); XCTAssertEqual(idx, [1])
        Kernels.maxPoolForward(x: [1, .nan, 7, 2], out: &out, argmax: &idx, planes: 1, geometry: g)
        XCTAssertTrue(out[0].isNaN); XCTAssertEqual(idx, [1])
    }

    /// The batch split across threads (chunked, private weight-gradient
    /// accumulators) agrees with the single-threaded loop.
    func testThreadedBatchMatchesSingleThread() {
        var rng = SeededGenerator(seed: 14)
        let g = ConvGeometry(channels: 4, height: 9, width: 9, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        let n = 5, outC = 6
        let x = randoms(n * g.channels * g.inputPlane, &rng), w = randoms(outC * g.colRows, &rng), b = randoms(outC, &rng)
        let dw = randoms(2 * g.channels * g.kernelH * g.kernelW, &rng)
        let gy = randoms(n * outC * g.outputPlane, &rng), gdw = randoms(n * 2 * g.channels * g.outputPlane, &rng)
        func run() -> [[Float]] {
            var out = [Float](repeating: 0, count: gy.count), gx = [Float](repeating: 0, count: x.count)
            var gw = [Float](repeating: 0, count: w.count), gb = [Float](repeating: 0, count: outC)
            Kernels.conv2dForward(x: x, weight: w, bias: b, out: &out, batch: n, geometry: g, outChannels: outC)
            Kernels.conv2dBackward(x: x, weight: w, gradOut: gy, batch: n, geometry: g, outChannels: outC,
                                   gradInput: &gx, gradWeight: &gw, gradBias: &gb)
            var dout = [Float](repeating: 0, count: gdw.count), dgx = [Float](repeating: 0, count: x.count)
            var dgw = [Float](repeating: 0, count: dw.count), dgb = [Float](repeating: 0, count: 2 * g.channels)
            Kernels.depthwiseForward(x: x, weight: dw, bias: nil, out: &dout, batch: n, geometry: g, multiplier: 2)
            Kernels.depthwiseBackward(x: x, weight: dw, gradOut: gdw, batch: n, geometry: g, multiplier: 2,
                                      gradInput: &dgx, gradWeight: &dgw, gradBias: &dgb)
            var pooled = [Float](repeating: 0, count: n * g.channels * g.outputPlane)
            var idx = [Int32](repeating: 0, count: pooled.count)
            Kernels.maxPoolForward(x: x, out: &pooled, argmax: &idx, planes: n * g.channels, geometry: g)
            return [out, gx, gw, gb, dout, dgx, dgw, dgb, pooled, idx.map(Float.init)]
        }
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        Kernels.setBLASThreads(1)
        XCTAssertEqual(Kernels.chunkCount(n), 1)
        let single = run()
        Kernels.setBLASThreads(2)
        XCTAssertEqual(Kernels.chunkCount(n), 2)
        let threaded = run()
        XCTAssertEqual(Kernels.blasThreads, 2, "the BLAS thread count is restored")
        for (a, b) in zip(threaded, single) { assertClose(a, b, rtol: 1e-5, atol: 1e-5) }
    }

    /// Batched kernels called from several threads at once: every result is
    /// right and the configured BLAS thread count survives.
    func testConcurrentCallersKeepTheBLASThreadCount() {
        var rng = SeededGenerator(seed: 15)
        let g = ConvGeometry(channels: 3, height: 10, width: 10, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        let n = 4, outC = 5
        let x = randoms(n * g.channels * g.inputPlane, &rng), w = randoms(outC * g.colRows, &rng)
        var expected = [Float](repeating: 0, count: n * outC * g.outputPlane)
        Kernels.conv2dReference(x: x, weight: w, bias: nil, out: &expected, batch: n, geometry: g, outChannels: outC)
        let saved = Kernels.blasThreads
        defer { Kernels.setBLASThreads(saved) }
        Kernels.setBLASThreads(2)
        let results = UnsafeMutableBufferPointer<Float>.allocate(capacity: 8 * expected.count)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for _ in 0..<20 {
                Kernels.conv2dForward(x: x, weight: w, bias: nil, out: results.baseAddress! + i * expected.count,
                                      batch: n, geometry: g, outChannels: outC)
            }
        }
        for i in 0..<8 {
            assertClose(Array(results[(i * expected.count)..<((i + 1) * expected.count)]), expected, rtol: 1e-4, atol: 1e-4, "caller \(i)")
        }
        XCTAssertEqual(Kernels.blasThreads, 2)
    }
}
