import DLTensor

/// Random image augmentation for NCHW batches, applied to the raw [0, 1]
/// pixels of training batches before normalization (never to dev or test).
/// Each image draws its own transform from the generator, in a fixed order
/// (flip, crop offsets, brightness, contrast), so a seeded run repeats.
public struct Augmentation: Codable, Equatable, Sendable {
    /// Mirror left-right with probability 1/2.
    public var horizontalFlip: Bool
    /// Pad by this many zero pixels on each side and crop back to H x W at a
    /// random offset (a random shift of up to +-cropPadding pixels); 0 = off.
    public var cropPadding: Int
    /// Add b ~ U(-brightness, brightness) to every pixel; 0 = off.
    public var brightness: Float
    /// Scale each image about its mean by c ~ U(1 - contrast, 1 + contrast); 0 = off.
    public var contrast: Float

    public init(horizontalFlip: Bool = false, cropPadding: Int = 0, brightness: Float = 0, contrast: Float = 0) {
        self.horizontalFlip = horizontalFlip
        self.cropPadding = cropPadding
        self.brightness = brightness
        self.contrast = contrast
    }

    enum CodingKeys: String, CodingKey {
        case horizontalFlip = "horizontal_flip", cropPadding = "crop_padding", brightness, contrast
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? false
        cropPadding = try c.decodeIfPresent(Int.self, forKey: .cropPadding) ?? 0
        brightness = try c.decodeIfPresent(Float.self, forKey: .brightness) ?? 0
        contrast = try c.decodeIfPresent(Float.self, forKey: .contrast) ?? 0
    }

    public var isIdentity: Bool { !horizontalFlip && cropPadding == 0 && brightness == 0 && contrast == 0 }

    /// Augments a batch [N, C, H, W] in place.
    public func apply(_ batch: inout [Float], shape: [Int], rng: inout SeededGenerator) {
        precondition(shape.count == 4 && shape.product == batch.count, "Augmentation.apply: batch \(shape) with \(batch.count) values")
        guard !isIdentity else { return }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let size = c * h * w
        var scratch = [Float](repeating: 0, count: size)
        batch.withUnsafeMutableBufferPointer { b in
            for i in 0..<n {
                let img = b.baseAddress! + i * size
                if horizontalFlip && rng.uniform() < 0.5 { Augmentation.flipHorizontally(img, c: c, h: h, w: w) }
                if cropPadding > 0 {
                    let span = UInt64(2 * cropPadding + 1)
                    let dy = Int(rng.next() % span) - cropPadding, dx = Int(rng.next() % span) - cropPadding
                    scratch.withUnsafeMutableBufferPointer {
                        Augmentation.shift(img, c: c, h: h, w: w, dy: dy, dx: dx, scratch: $0.baseAddress!)
                    }
                }
                if brightness > 0 || contrast > 0 {
                    let shift = brightness > 0 ? (2 * rng.uniform() - 1) * brightness : 0
                    let scale = contrast > 0 ? 1 + (2 * rng.uniform() - 1) * contrast : 1
                    var mean: Float = 0
                    for k in 0..<size { mean += img[k] }
                    mean /= Float(size)
                    for k in 0..<size { img[k] = min(max((img[k] - mean) * scale + mean + shift, 0), 1) }
                }
            }
        }
    }

    /// Mirrors one image [C, H, W] left-right in place.
    public static func flipHorizontally(_ img: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int) {
        for row in 0..<(c * h) {
            let r = img + row * w
            var (a, z) = (0, w - 1)
            while a < z { swap(&r[a], &r[z]); a += 1; z -= 1 }
        }
    }

    /// The crop of a zero-padded image: out[y][x] = in[y + dy][x + dx], 0 outside.
    /// Equivalent to padding by p and cropping at offset (p + dy, p + dx).
    public static func shift(
        _ img: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int, dy: Int, dx: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard dy != 0 || dx != 0 else { return }
        let size = c * h * w
        scratch.update(from: img, count: size)
        img.update(repeating: 0, count: size)
        let x0 = max(0, -dx), x1 = min(w, w - dx)
        guard x0 < x1 else { return }
        for ch in 0..<c {
            for y in max(0, -dy)..<max(max(0, -dy), min(h, h - dy)) {
                let src = scratch + ch * h * w + (y + dy) * w + dx
                (img + ch * h * w + y * w + x0).update(from: src + x0, count: x1 - x0)
            }
        }
    }
}
