/// An axis-aligned box in pixel coordinates, corners (x1, y1) top-left and
/// (x2, y2) bottom-right, continuous (a box covering pixels 0...9 is
/// x1 = 0, x2 = 10), as torchvision's `boxes` and COCO's [x, y, w, h] read
/// after conversion. A box with x2 <= x1 or y2 <= y1 has zero area.
public struct Box: Sendable, Hashable, Codable {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double

    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        (self.x1, self.y1, self.x2, self.y2) = (x1, y1, x2, y2)
    }

    /// From a centre and a size (YOLO's b_x, b_y, b_w, b_h).
    public init(centerX: Double, centerY: Double, width: Double, height: Double) {
        self.init(x1: centerX - width / 2, y1: centerY - height / 2, x2: centerX + width / 2, y2: centerY + height / 2)
    }

    public var width: Double { max(0, x2 - x1) }
    public var height: Double { max(0, y2 - y1) }
    public var area: Double { width * height }
    public var centerX: Double { (x1 + x2) / 2 }
    public var centerY: Double { (y1 + y2) / 2 }

    /// Area of the overlap with `other` (0 when they do not meet).
    public func intersection(_ other: Box) -> Double {
        let w = min(x2, other.x2) - max(x1, other.x1), h = min(y2, other.y2) - max(y1, other.y1)
        return w > 0 && h > 0 ? w * h : 0
    }

    /// Intersection over union; 0 when the union is empty (two empty boxes).
    public func iou(_ other: Box) -> Double {
        let i = intersection(other)
        let u = area + other.area - i
        return u > 0 ? i / u : 0
    }

    /// The box clipped to [0, width] x [0, height].
    public func clipped(width w: Double, height h: Double) -> Box {
        Box(x1: min(max(x1, 0), w), y1: min(max(y1, 0), h), x2: min(max(x2, 0), w), y2: min(max(y2, 0), h))
    }

    /// The box scaled by (sx, sy) and then moved by (dx, dy): x' = x * sx + dx.
    public func transformed(scaleX sx: Double, scaleY sy: Double, dx: Double = 0, dy: Double = 0) -> Box {
        Box(x1: x1 * sx + dx, y1: y1 * sy + dy, x2: x2 * sx + dx, y2: y2 * sy + dy)
    }
}

/// A box with a class and a confidence: one detection, or (score 1) one
/// ground-truth object.
public struct Detection: Sendable, Hashable, Codable {
    public var box: Box
    public var label: Int
    public var score: Double

    public init(box: Box, label: Int, score: Double = 1) {
        self.box = box
        self.label = label
        self.score = score
    }
}
