/// Greedy non-maximum suppression, torchvision's `ops.nms` semantics: boxes in
/// order of decreasing score (ties keep their input order), each kept box
/// suppresses every later box whose IoU with it is strictly above
/// `iouThreshold`. Returns the kept indices, best first.
public func nonMaxSuppression(_ boxes: [Box], scores: [Double], iouThreshold: Double) -> [Int] {
    precondition(boxes.count == scores.count, "nonMaxSuppression: \(boxes.count) boxes but \(scores.count) scores")
    let order = boxes.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    var suppressed = [Bool](repeating: false, count: boxes.count)
    var keep: [Int] = []
    for (rank, i) in order.enumerated() where !suppressed[i] {
        keep.append(i)
        for j in order[(rank + 1)...] where !suppressed[j] && boxes[i].iou(boxes[j]) > iouThreshold {
            suppressed[j] = true
        }
    }
    return keep
}

/// Decoding options of a detector: what `POST /detect` takes as query options.
public struct DetectionFilter: Sendable, Equatable {
    /// Detections scoring below this are dropped before suppression.
    public var scoreThreshold: Double
    /// Suppression threshold of `nonMaxSuppression`, applied per class.
    public var iouThreshold: Double
    /// At most this many detections, the best ones.
    public var maxDetections: Int
    /// Only these labels (nil: all).
    public var classes: Set<Int>?

    public init(scoreThreshold: Double = 0.25, iouThreshold: Double = 0.45, maxDetections: Int = 100, classes: Set<Int>? = nil) {
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.maxDetections = maxDetections
        self.classes = classes
    }

    /// Threshold, class filter, per-class NMS (torchvision's `batched_nms`:
    /// boxes of different classes never suppress each other), then the best
    /// `maxDetections` by score (ties in input order).
    public func apply(_ detections: [Detection]) -> [Detection] {
        let candidates = detections.filter { $0.score >= scoreThreshold && (classes?.contains($0.label) ?? true) }
        var kept: [(index: Int, detection: Detection)] = []
        let byLabel = Dictionary(grouping: candidates.indices, by: { candidates[$0].label })
        for (_, indices) in byLabel {
            let keep = nonMaxSuppression(indices.map { candidates[$0].box }, scores: indices.map { candidates[$0].score },
                                         iouThreshold: iouThreshold)
            kept += keep.map { (indices[$0], candidates[indices[$0]]) }
        }
        kept.sort { $0.detection.score != $1.detection.score ? $0.detection.score > $1.detection.score : $0.index < $1.index }
        return kept.prefix(max(0, maxDetections)).map(\.detection)
    }
}
