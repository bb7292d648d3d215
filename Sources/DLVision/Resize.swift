/// How an axis is resampled.
public enum ResizeMethod: String, Codable, Sendable, CaseIterable {
    /// Area averaging when an axis shrinks (every input pixel contributes by
    /// its overlap, as OpenCV's INTER_AREA; equal to Pillow's BOX filter for
    /// integer factors), bilinear when it grows.
    case auto
    /// Bilinear with half-pixel centres and edge clamping: PyTorch's
    /// `interpolate(mode="bilinear", align_corners=False, antialias=False)`,
    /// and Pillow's BILINEAR when enlarging.
    case bilinear
    /// Area averaging on every axis (a box filter of the scale's width).
    case area
}

/// Separable resampling of interleaved float planes. Each axis gets a table
/// of (first input index, weights) per output index; the image is resampled
/// along x, then along y.
enum Resampler {
    struct Taps {
        var start: [Int]
        var weights: [[Float]]
    }

    /// Weight table for resizing one axis from `input` to `output` samples.
    static func taps(input: Int, output: Int, method: ResizeMethod) -> Taps {
        precondition(input > 0 && output > 0, "Resampler.taps: sizes \(input) -> \(output) must be positive")
        let useArea = method == .area || (method == .auto && output < input)
        return useArea ? areaTaps(input: input, output: output) : bilinearTaps(input: input, output: output)
    }

    /// Output pixel i covers [i*s, (i+1)*s) in input coordinates, s = input/output;
    /// each input pixel j weighs |[j, j+1) ∩ that box| / s.
    static func areaTaps(input: Int, output: Int) -> Taps {
        let s = Double(input) / Double(output)
        var start: [Int] = [], weights: [[Float]] = []
        for i in 0..<output {
            let lo = Double(i) * s, hi = Double(i + 1) * s
            let first = Int(lo.rounded(.down)), last = min(input - 1, Int((hi - 1e-9).rounded(.down)))
            var w: [Float] = []
            for j in first...max(first, last) {
                let overlap = min(hi, Double(j + 1)) - max(lo, Double(j))
                w.append(Float(max(0, overlap) / s))
            }
            start.append(first)
            weights.append(w)
        }
        return Taps(start: start, weights: weights)
    }

    /// src = (i + 0.5) * input/output - 0.5, clamped to [0, input-1]; two taps.
    static func bilinearTaps(input: Int, output: Int) -> Taps {
        let s = Double(input) / Double(output)
        var start: [Int] = [], weights: [[Float]] = []
        for i in 0..<output {
            let src = min(max((Double(i) + 0.5) * s - 0.5, 0), Double(input - 1))
            let j0 = Int(src.rounded(.down))
            let frac = src - Double(j0)
            if j0 + 1 < input && frac > 0 {
                start.append(j0)
                weights.append([Float(1 - frac), Float(frac)])
            } else {
                start.append(j0)
                weights.append([1])
            }
        }
        return Taps(start: start, weights: weights)
    }

    /// Resizes `src` ([height][width][channels], interleaved) to outH x outW.
    static func resize(_ src: [Float], width: Int, height: Int, channels: Int,
                       toWidth outW: Int, toHeight outH: Int, method: ResizeMethod) -> [Float] {
        precondition(src.count == width * height * channels, "Resampler.resize: \(src.count) values for \(width)x\(height)x\(channels)")
        if width == outW && height == outH { return src }
        let tx = taps(input: width, output: outW, method: method)
        let ty = taps(input: height, output: outH, method: method)
        // Along x: [height][outW][channels].
        var mid = [Float](repeating: 0, count: height * outW * channels)
        for y in 0..<height {
            for x in 0..<outW {
                let s0 = tx.start[x]
                for c in 0..<channels {
                    var acc: Float = 0
                    for (k, w) in tx.weights[x].enumerated() {
                        acc += w * src[(y * width + s0 + k) * channels + c]
                    }
                    mid[(y * outW + x) * channels + c] = acc
                }
            }
        }
        // Along y: [outH][outW][channels].
        var out = [Float](repeating: 0, count: outH * outW * channels)
        let row = outW * channels
        for y in 0..<outH {
            let s0 = ty.start[y]
            for (k, w) in ty.weights[y].enumerated() {
                let srcRow = (s0 + k) * row
                for i in 0..<row { out[y * row + i] += w * mid[srcRow + i] }
            }
        }
        return out
    }
}
