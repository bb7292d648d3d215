/// COCO-style box evaluation, pycocotools' `COCOeval` (iouType "bbox", area
/// range "all", at most `maxDetections` per image and class): mAP@[.5:.95]
/// (the mean over ten IoU thresholds 0.50, 0.55, ..., 0.95 and over the
/// classes of the 101-point interpolated precision), and AP at 0.5 and 0.75.
public struct COCOSummary: Sendable, Equatable {
    /// mAP@[.5:.95], COCO's headline number (stats[0]).
    public var map: Double
    /// AP@0.5 with 101-point interpolation (stats[1]; differs from VOC's all-point AP).
    public var ap50: Double
    /// AP@0.75 (stats[2]).
    public var ap75: Double
    /// mAP@[.5:.95] of each class.
    public var perClass: [Int: Double]
}

extension DetectionBenchmark {
    /// COCOeval's IoU thresholds: numpy's linspace(.5, .95, 10).
    static let cocoThresholds: [Double] = {
        let step: Double = (0.95 - 0.5) / 9
        return (0..<10).map { (i: Int) -> Double in i == 9 ? 0.95 : 0.5 + Double(i) * step }
    }()

    public func coco(maxDetections: Int = 100) -> COCOSummary {
        let ts = Self.cocoThresholds
        var perClass: [Int: Double] = [:], ap50: [Double] = [], ap75: [Double] = [], all: [Double] = []
        for label in classes {
            // Per image: this class's detections (best first, at most maxDetections), matched at each threshold.
            var scores: [Double] = [], matches: [[Bool]] = Array(repeating: [], count: ts.count)
            var npos = 0
            for i in groundTruth.indices {
                let gts = groundTruth[i].filter { $0.label == label }.map(\.box)
                npos += gts.count
                let dts = ranked(i, label).prefix(maxDetections)
                scores += dts.map(\.score)
                for (t, threshold) in ts.enumerated() {
                    var taken = [Bool](repeating: false, count: gts.count)
                    for d in dts {
                        // The unmatched ground truth of highest IoU >= threshold (later ones win ties, as in COCOeval).
                        var best = min(threshold, 1 - 1e-10), m = -1
                        for (g, gt) in gts.enumerated() where !taken[g] {
                            let o = d.box.iou(gt)
                            if o < best { continue }
                            best = o; m = g
                        }
                        if m >= 0 { taken[m] = true }
                        matches[t].append(m >= 0)
                    }
                }
            }
            guard npos > 0 else { continue }
            // All images' detections by decreasing score; mergesort keeps image order on ties.
            let order = scores.indices.sorted { (a: Int, b: Int) -> Bool in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
            let aps = ts.indices.map { t in Self.interpolated101(order.map { matches[t][$0] }, positives: npos) }
            perClass[label] = aps.reduce(0, +) / Double(aps.count)
            all += aps; ap50.append(aps[0]); ap75.append(aps[5])
        }
        func mean(_ a: [Double]) -> Double { a.isEmpty ? -1 : a.reduce(0, +) / Double(a.count) }
        return COCOSummary(map: mean(all), ap50: mean(ap50), ap75: mean(ap75), perClass: perClass)
    }

    /// COCOeval.accumulate for one class and threshold: the precision
    /// envelope sampled at recall 0, 0.01, ..., 1 (0 past the last recall), averaged.
    static func interpolated101(_ isTruePositive: [Bool], positives: Int) -> Double {
        var tp = 0.0, fp = 0.0, recall: [Double] = [], precision: [Double] = []
        for hit in isTruePositive {
            if hit { tp += 1 } else { fp += 1 }
            recall.append(tp / Double(positives))
            precision.append(tp / (tp + fp + 2.220446049250313e-16))  // np.spacing(1)
        }
        for i in stride(from: precision.count - 1, to: 0, by: -1) where precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i]
        }
        var sum = 0.0
        for r in 0...100 {
            let threshold = Double(r) * 0.01
            // numpy searchsorted(side="left"): the first index with recall >= threshold.
            var lo = 0, hi = recall.count
            while lo < hi { let mid = (lo + hi) / 2; if recall[mid] < threshold { lo = mid + 1 } else { hi = mid } }
            if lo < precision.count { sum += precision[lo] }
        }
        return sum / 101
    }
}
