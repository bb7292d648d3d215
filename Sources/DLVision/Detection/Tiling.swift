/// How a detector reads an image larger than it was trained on: square tiles
/// of `tile` image pixels, neighbours sharing `overlap` of a tile, each
/// letterboxed to the head's input on its own; the tiles' boxes go back to
/// the image by the tile's offset and are merged by per-class NMS (as
/// DeepForest's `predict_tile` does). An image no larger than a tile is one tile.
public struct Tiling: Sendable, Equatable, Codable {
    /// Tile side in image pixels.
    public var tile: Int
    /// Fraction of a tile its neighbour overlaps, in [0, 0.9].
    public var overlap: Double

    public init(tile: Int, overlap: Double = 0.25) {
        precondition(tile > 0 && (0...0.9).contains(overlap), "Tiling: tile \(tile) must be > 0 and overlap \(overlap) in [0, 0.9]")
        (self.tile, self.overlap) = (tile, overlap)
    }

    /// Problems with a decoded description (nil when fine).
    public var problem: String? {
        guard tile >= 16 else { return "tiling.tile must be >= 16 (got \(tile))" }
        guard (0...0.9).contains(overlap) else { return "tiling.overlap must be in [0, 0.9] (got \(overlap))" }
        return nil
    }

    /// Tile starts along one axis of `length` pixels: every `tile * (1 - overlap)`,
    /// the last one flush with the end, so every pixel is covered.
    public func starts(length: Int) -> [Int] {
        guard length > tile else { return [0] }
        let step = max(1, Int((Double(tile) * (1 - overlap)).rounded(.down)))
        var s = Array(Swift.stride(from: 0, to: length - tile, by: step))
        s.append(length - tile)
        return s
    }

    /// The tiles of a `width` x `height` image: (x, y, width, height), row by row.
    public func tiles(width: Int, height: Int) -> [(x: Int, y: Int, width: Int, height: Int)] {
        starts(length: height).flatMap { y in
            starts(length: width).map { x in (x, y, Swift.min(tile, width - x), Swift.min(tile, height - y)) }
        }
    }
}

extension Image {
    /// The pixels of [x, x + width) x [y, y + height) (inside the image).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height, "Image.cropped: outside the image")
        if x == 0 && y == 0 && w == width && h == height { return self }
        var out = [UInt8](repeating: 0, count: w * h * channels)
        pixels.withUnsafeBufferPointer { p in
            for row in 0..<h {
                let src = ((y + row) * width + x) * channels
                for i in 0..<(w * channels) { out[row * w * channels + i] = p[src + i] }
            }
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }
}

/// One network input cut from an image: the letterboxed pixels (CHW, 0...255),
/// the letterbox's scales, and where the piece sits in the image.
public struct DetectionInput: Sendable {
    public var chw: [Float]
    public var scaleX: Double
    public var scaleY: Double
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
}

extension YOLOGrid {
    /// The network inputs of an image: the whole image letterboxed, or with
    /// `tiling`, one per tile.
    public func inputs(for image: Image) -> [DetectionInput] {
        let pieces = tiling?.tiles(width: image.width, height: image.height) ?? [(0, 0, image.width, image.height)]
        return pieces.map { t in
            let (chw, sx, sy) = letterbox.apply(image.cropped(x: t.x, y: t.y, width: t.width, height: t.height))
            return DetectionInput(chw: chw, scaleX: sx, scaleY: sy, x: t.x, y: t.y, width: t.width, height: t.height)
        }
    }

    /// An image's detections from the head outputs of its `inputs` (image i of
    /// `output` is input i): each piece decoded and filtered, shifted to the
    /// image, and with several pieces merged again by `filter` (per-class NMS, cap).
    public func detections(_ output: UnsafeBufferPointer<Float>, inputs: [DetectionInput], filter: DetectionFilter) -> [Detection] {
        var found: [Detection] = []
        for (i, p) in inputs.enumerated() {
            found += detections(output, image: i, filter: filter, scaleX: p.scaleX, scaleY: p.scaleY, imageWidth: p.width, imageHeight: p.height)
                .map { Detection(box: $0.box.transformed(scaleX: 1, scaleY: 1, dx: Double(p.x), dy: Double(p.y)), label: $0.label, score: $0.score) }
        }
        return inputs.count == 1 ? found : filter.apply(found)
    }
}
