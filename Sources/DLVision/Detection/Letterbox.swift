/// Fits an image of any size into a detector's fixed input without
/// distorting it (the YOLO "letterbox"): scaled by s = min(W / w, H / h)
/// (never up when `allowUpscale` is false), placed at the top-left corner
/// (dx = dy = 0, so input pixels and image pixels differ by the scale only),
/// the rest filled with `fill`. `toImage` maps boxes from the input back to
/// the image's pixels.
public struct Letterbox: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fill: Float
    public var allowUpscale: Bool

    public init(width: Int, height: Int, fill: Float = 114, allowUpscale: Bool = false) {
        precondition(width > 0 && height > 0, "Letterbox: input \(width)x\(height) must be positive")
        (self.width, self.height, self.fill, self.allowUpscale) = (width, height, fill, allowUpscale)
    }

    /// The scale an image of w x h gets.
    public func scale(width w: Int, height h: Int) -> Double {
        let s = min(Double(width) / Double(w), Double(height) / Double(h))
        return allowUpscale ? s : min(s, 1)
    }

    /// RGB values 0...255 as [3, height, width] (CHW) and the scale applied on
    /// each axis (the resized size is rounded to whole pixels).
    public func apply(_ image: Image) -> (chw: [Float], scaleX: Double, scaleY: Double) {
        let rgb = image.rgb()
        let s = scale(width: rgb.width, height: rgb.height)
        let w = max(1, min(width, Int((Double(rgb.width) * s).rounded()))), h = max(1, min(height, Int((Double(rgb.height) * s).rounded())))
        let resized = Resampler.resize(rgb.pixels.map { Float($0) }, width: rgb.width, height: rgb.height, channels: 3,
                                       toWidth: w, toHeight: h, method: .auto)
        var chw = [Float](repeating: fill, count: 3 * width * height)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { chw[(c * height + y) * width + x] = resized[(y * w + x) * 3 + c] }
            }
        }
        return (chw, Double(w) / Double(rgb.width), Double(h) / Double(rgb.height))
    }

    /// A box in input pixels -> the image's pixels (clipped to the image).
    public func toImage(_ box: Box, scaleX: Double, scaleY: Double, imageWidth: Int, imageHeight: Int) -> Box {
        box.transformed(scaleX: 1 / scaleX, scaleY: 1 / scaleY).clipped(width: Double(imageWidth), height: Double(imageHeight))
    }
}
