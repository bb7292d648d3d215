/// Anchor boxes by k-means over the training boxes' sizes (Redmon & Farhadi,
/// YOLO9000, 2017): the distance of a box to a centroid is 1 - IoU of the two
/// sizes placed on the same centre, so large and small boxes weigh alike.
/// Deterministic: the centroids start at the sizes of the boxes at the
/// quantiles (i + 0.5) / k of the area order, and each step moves a centroid
/// to the mean size of its boxes until no assignment changes.
public struct AnchorKMeans: Sendable {
    public struct Size: Sendable, Hashable, Codable {
        public var width: Double
        public var height: Double
        public init(width: Double, height: Double) { (self.width, self.height) = (width, height) }
        public var area: Double { width * height }

        /// IoU of two sizes on a common centre.
        public func iou(_ other: Size) -> Double {
            let i = min(width, other.width) * min(height, other.height)
            let u = area + other.area - i
            return u > 0 ? i / u : 0
        }
    }

    /// Centroids by increasing area.
    public let anchors: [Size]
    /// Mean over the boxes of the best IoU with an anchor (YOLO9000's "Avg IOU").
    public let meanIoU: Double
    public let iterations: Int

    /// `sizes` must be non-empty with positive sides; k in 1...sizes.count.
    public init(sizes: [Size], k: Int, maxIterations: Int = 300) {
        precondition(!sizes.isEmpty && k >= 1 && k <= sizes.count, "AnchorKMeans: k = \(k) for \(sizes.count) boxes")
        precondition(sizes.allSatisfy { $0.width > 0 && $0.height > 0 }, "AnchorKMeans: every box needs a positive size")
        let byArea = sizes.sorted { $0.area != $1.area ? $0.area < $1.area : ($0.width, $0.height) < ($1.width, $1.height) }
        var centroids = (0..<k).map { byArea[min(byArea.count - 1, Int((Double($0) + 0.5) / Double(k) * Double(byArea.count)))] }
        var assignment = [Int](repeating: -1, count: sizes.count)
        var steps = 0
        while steps < maxIterations {
            steps += 1
            let next = sizes.map { s in centroids.indices.max { s.iou(centroids[$0]) < s.iou(centroids[$1]) }! }
            if next == assignment { break }
            assignment = next
            for c in centroids.indices {
                let members = sizes.indices.filter { assignment[$0] == c }
                guard !members.isEmpty else { continue }  // an empty cluster keeps its centroid
                let n = Double(members.count)
                centroids[c] = Size(width: members.reduce(0) { $0 + sizes[$1].width } / n,
                                    height: members.reduce(0) { $0 + sizes[$1].height } / n)
            }
        }
        anchors = centroids.sorted { $0.area < $1.area }
        meanIoU = sizes.reduce(0) { acc, s in acc + centroids.map { s.iou($0) }.max()! } / Double(sizes.count)
        iterations = steps
    }
}
