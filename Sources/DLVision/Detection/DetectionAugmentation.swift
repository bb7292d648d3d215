import DLTensor

/// Training-time changes to a scene that move its boxes with its pixels:
/// a random scale around the letterbox fit and a random placement in the
/// input (so objects move, and may be cut at the edges), a horizontal flip,
/// and colour jitter (brightness, contrast, per-channel gain). With
/// `.none` the result is the plain letterbox, as at inference.
public struct DetectionAugmentation: Sendable, Equatable, Codable {
    /// Probability of a left-right mirror.
    public var flip: Double
    /// Extra scale factor range around the letterbox fit, e.g. 0.7...1.3.
    public var scaleLow: Double
    public var scaleHigh: Double
    /// Whether the scaled image is placed at a random offset (else top-left).
    public var translate: Bool
    /// Strength j of the colour jitter: brightness +- 0.25 j * 255, contrast
    /// 1 +- j, channel gains 1 +- j / 2.
    public var color: Double
    /// A box keeps this share of its area after cropping, or is dropped.
    public var minVisible: Double

    public init(flip: Double = 0.5, scaleLow: Double = 0.75, scaleHigh: Double = 1.25, translate: Bool = true,
                color: Double = 0.3, minVisible: Double = 0.4) {
        (self.flip, self.scaleLow, self.scaleHigh, self.translate, self.color, self.minVisible) =
            (flip, scaleLow, scaleHigh, translate, color, minVisible)
    }

    public static let none = DetectionAugmentation(flip: 0, scaleLow: 1, scaleHigh: 1, translate: false, color: 0, minVisible: 0)

    /// The scene as a letterboxed input [3, H, W] of 0...255 values and its
    /// objects in input pixels.
    public func apply(_ image: Image, objects: [Detection], letterbox: Letterbox,
                      rng: inout SeededGenerator) -> (chw: [Float], objects: [Detection]) {
        let rgb = image.rgb()
        let (W, H) = (letterbox.width, letterbox.height)
        let extra = scaleLow + (scaleHigh - scaleLow) * Double(rng.uniform())
        let s = letterbox.scale(width: rgb.width, height: rgb.height) * extra
        let w = max(1, Int((Double(rgb.width) * s).rounded())), h = max(1, Int((Double(rgb.height) * s).rounded()))
        let (sx, sy) = (Double(w) / Double(rgb.width), Double(h) / Double(rgb.height))
        func offset(_ free: Int) -> Int {
            guard translate, free != 0 else { return 0 }
            let r = Double(rng.uniform())
            return free > 0 ? Int(r * Double(free + 1)) : -Int(r * Double(-free + 1))
        }
        let dx = offset(W - w), dy = offset(H - h)
        let mirror = Double(rng.uniform()) < flip
        let resized = Resampler.resize(rgb.pixels.map { Float($0) }, width: rgb.width, height: rgb.height, channels: 3,
                                       toWidth: w, toHeight: h, method: .auto)
        var chw = [Float](repeating: letterbox.fill, count: 3 * W * H)
        for y in max(0, dy)..<min(H, dy + h) {
            for x in max(0, dx)..<min(W, dx + w) {
                let ox = mirror ? W - 1 - x : x
                for c in 0..<3 { chw[(c * H + y) * W + ox] = resized[((y - dy) * w + (x - dx)) * 3 + c] }
            }
        }
        if color > 0 { jitter(&chw, plane: W * H, rng: &rng) }
        var moved: [Detection] = []
        for o in objects {
            var b = o.box.transformed(scaleX: sx, scaleY: sy, dx: Double(dx), dy: Double(dy))
            let full = b.area
            b = b.clipped(width: Double(W), height: Double(H))
            guard b.width >= 2, b.height >= 2, full > 0, b.area / full >= minVisible else { continue }
            if mirror { b = Box(x1: Double(W) - b.x2, y1: b.y1, x2: Double(W) - b.x1, y2: b.y2) }
            moved.append(Detection(box: b, label: o.label, score: o.score))
        }
        return (chw, moved)
    }

    func jitter(_ chw: inout [Float], plane: Int, rng: inout SeededGenerator) {
        func centred(_ r: Float) -> Float { 2 * r - 1 }
        let j = Float(color)
        let brightness = 0.25 * j * 255 * centred(rng.uniform()), contrast = 1 + j * centred(rng.uniform())
        let gains = (0..<3).map { _ in 1 + 0.5 * j * centred(rng.uniform()) }
        let mean = chw.reduce(0, +) / Float(chw.count)
        for c in 0..<3 {
            for i in c * plane ..< (c + 1) * plane {
                chw[i] = min(255, max(0, ((chw[i] - mean) * contrast + mean) * gains[c] + brightness))
            }
        }
    }
}
