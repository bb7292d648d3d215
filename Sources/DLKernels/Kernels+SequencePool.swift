/// Pooling over the real steps of a padded batch, 8 features at a time, for
/// inference (`SequencePool` keeps its plain loops, which also record what
/// backward reads, as the reference): x [N, T, F], mask [N, T] (1 for a real
/// step) -> out [N, F]. A row with no real step pools to 0.
extension Kernels {
    /// out[b, j] = max over real steps s of x[b, s, j] (a NaN is passed over, as `v > best` does).
    public static func sequenceMaxPool(
        x: UnsafePointer<Float>, mask: UnsafePointer<Float>, n: Int, t: Int, f: Int, out: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<n {
            let o = out + b * f
            let real = (0..<t).filter { mask[b * t + $0] != 0 }
            guard !real.isEmpty else { o.update(repeating: 0, count: f); continue }
            var j = 0
            while j < f {
                let c = Swift.min(8, f - j)
                var best = V(repeating: -.infinity)
                for s in real {
                    let v = c == 8 ? Lanes.load(x, (b * t + s) * f + j) : Lanes.loadTail(x, (b * t + s) * f + j, c, fill: -.infinity)
                    best = Lanes.maximum(best, v)
                }
                if c == 8 { Lanes.store(best, o, j) } else { Lanes.storeTail(best, o, j, c) }
                j += 8
            }
        }
    }

    /// out[b, j] = Σ over real steps of x[b, s, j] * (1 / length), summed in step order.
    public static func sequenceMeanPool(
        x: UnsafePointer<Float>, mask: UnsafePointer<Float>, n: Int, t: Int, f: Int, out: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<n {
            let o = out + b * f
            o.update(repeating: 0, count: f)
            let real = (0..<t).filter { mask[b * t + $0] != 0 }
            guard !real.isEmpty else { continue }
            let w = V(repeating: 1 / Float(real.count))
            var j = 0
            while j < f {
                let c = Swift.min(8, f - j)
                var acc = V(repeating: 0)
                for s in real {
                    let v = c == 8 ? Lanes.load(x, (b * t + s) * f + j) : Lanes.loadTail(x, (b * t + s) * f + j, c, fill: 0)
                    acc = acc + v * w
                }
                if c == 8 { Lanes.store(acc, o, j) } else { Lanes.storeTail(acc, o, j, c) }
                j += 8
            }
        }
    }
}
