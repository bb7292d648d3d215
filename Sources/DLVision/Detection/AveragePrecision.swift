/// Detection quality over a set of images: for each image its ground-truth
/// objects and the detector's output. Classes are the labels that occur in
/// the ground truth; a class without ground truth counts in no mean (as in
/// pycocotools, where its precision stays -1).
public struct DetectionBenchmark: Sendable {
    public var groundTruth: [[Detection]]
    public var detections: [[Detection]]

    public init(groundTruth: [[Detection]], detections: [[Detection]]) {
        precondition(groundTruth.count == detections.count,
                     "DetectionBenchmark: \(groundTruth.count) ground-truth images but \(detections.count) detection lists")
        self.groundTruth = groundTruth
        self.detections = detections
    }

    public var classes: [Int] { Array(Set(groundTruth.joined().map(\.label))).sorted() }

    /// Ground-truth objects of `label` anywhere.
    func positives(_ label: Int) -> Int { groundTruth.reduce(0) { $0 + $1.filter { $0.label == label }.count } }

    /// Detections of `label` in image `i`, best score first (ties in input order).
    func ranked(_ i: Int, _ label: Int) -> [Detection] {
        let d = detections[i].enumerated().filter { $0.element.label == label }
        return d.sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }.map(\.element)
    }
}

// MARK: - VOC

extension DetectionBenchmark {
    /// Pascal VOC average precision of one class (VOC 2010+ all-point
    /// interpolation): detections of all images by decreasing score; each is a
    /// true positive when its best-overlapping ground truth in the same image
    /// has IoU > `iouThreshold` and was not matched before, else a false
    /// positive; AP is the area under the precision envelope over recall.
    public func vocAveragePrecision(label: Int, iouThreshold: Double = 0.5) -> Double {
        let npos = positives(label)
        guard npos > 0 else { return 0 }
        var all: [(score: Double, image: Int, box: Box, order: Int)] = []
        for i in detections.indices {
            for d in detections[i] where d.label == label { all.append((d.score, i, d.box, all.count)) }
        }
        all.sort { $0.score != $1.score ? $0.score > $1.score : $0.order < $1.order }
        var matched = groundTruth.map { [Bool](repeating: false, count: $0.count) }
        var tp: [Double] = [], fp: [Double] = []
        var ctp = 0.0, cfp = 0.0
        for d in all {
            var best = -Double.infinity, j = -1
            for (g, gt) in groundTruth[d.image].enumerated() where gt.label == label {
                let o = d.box.iou(gt.box)
                if o > best { best = o; j = g }
            }
            if j >= 0 && best > iouThreshold && !matched[d.image][j] {
                matched[d.image][j] = true; ctp += 1
            } else {
                cfp += 1
            }
            tp.append(ctp); fp.append(cfp)
        }
        let recall = tp.map { $0 / Double(npos) }
        let precision = zip(tp, fp).map { $0 / max($0 + $1, Double.leastNormalMagnitude) }
        return Self.allPointArea(recall: recall, precision: precision)
    }

    /// mAP@`iouThreshold` over `classes`, VOC style, and each class's AP.
    public func vocMeanAveragePrecision(iouThreshold: Double = 0.5) -> (mean: Double, perClass: [Int: Double]) {
        let per = Dictionary(uniqueKeysWithValues: classes.map { ($0, vocAveragePrecision(label: $0, iouThreshold: iouThreshold)) })
        return (per.isEmpty ? 0 : per.values.reduce(0, +) / Double(per.count), per)
    }

    /// sum over recall steps of (r[i+1] - r[i]) * envelope(p)[i+1], with the
    /// sentinels r = 0 / p = 0 before and r = 1 / p = 0 after (VOC devkit's `VOCap`).
    static func allPointArea(recall: [Double], precision: [Double]) -> Double {
        let r = [0] + recall + [1]
        var p = [0] + precision + [0]
        for i in stride(from: p.count - 1, to: 0, by: -1) { p[i - 1] = max(p[i - 1], p[i]) }
        var ap = 0.0
        for i in 1..<r.count where r[i] != r[i - 1] { ap += (r[i] - r[i - 1]) * p[i] }
        return ap
    }
}

// MARK: - Precision and recall at one operating point

extension DetectionBenchmark {
    /// Counts at one score threshold.
    public struct OperatingPoint: Sendable, Equatable, Codable {
        public var truePositives: Int
        public var detections: Int
        public var objects: Int
        public var precision: Double { detections == 0 ? 0 : Double(truePositives) / Double(detections) }
        public var recall: Double { objects == 0 ? 0 : Double(truePositives) / Double(objects) }
    }

    /// Box precision and recall of the detections scoring at least
    /// `scoreThreshold`: in each image, by decreasing score, a detection is
    /// a true positive when an unmatched ground-truth object of its class
    /// overlaps it with IoU >= `iouThreshold` (the best such object is taken).
    /// DeepForest reports its tree benchmark this way at IoU 0.4.
    public func operatingPoint(iouThreshold: Double = 0.4, scoreThreshold: Double) -> OperatingPoint {
        var tp = 0, n = 0
        for i in detections.indices {
            var matched = [Bool](repeating: false, count: groundTruth[i].count)
            let kept = detections[i].enumerated().filter { $0.element.score >= scoreThreshold }
                .sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
            n += kept.count
            for (_, d) in kept {
                var best = -1.0, j = -1
                for (g, gt) in groundTruth[i].enumerated() where gt.label == d.label && !matched[g] {
                    let o = d.box.iou(gt.box)
                    if o > best { best = o; j = g }
                }
                if j >= 0, best >= iouThreshold { matched[j] = true; tp += 1 }
            }
        }
        return OperatingPoint(truePositives: tp, detections: n, objects: groundTruth.reduce(0) { $0 + $1.count })
    }
}
