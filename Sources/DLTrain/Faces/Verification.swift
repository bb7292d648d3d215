import Foundation

/// Face verification scored as on LFW (Huang et al., 2007, "View 2"): pairs
/// in folds, a pair called "same" when its distance is below the threshold
/// tau; for each fold, tau is chosen on the other folds (the accuracy-best
/// midpoint between sorted distances) and the accuracy measured on the
/// fold itself; the mean and (population) standard deviation over folds.
public enum Verification {
    /// Accuracy-best threshold for calling `distance < tau` "same": the
    /// midpoints between consecutive distinct sorted distances and one value
    /// past each end are tried; ties go to the smallest tau.
    public static func bestThreshold(distances: [Double], same: [Bool]) -> (tau: Double, accuracy: Double) {
        precondition(distances.count == same.count && !distances.isEmpty, "bestThreshold: \(distances.count) distances, \(same.count) labels")
        let order = distances.indices.sorted { distances[$0] < distances[$1] }
        let positives = same.filter { $0 }.count, n = distances.count
        // tau below everything: every pair called different.
        var correct = n - positives, best = correct
        var tau = distances[order[0]] - 1
        var i = 0
        while i < n {
            // Moving tau past every pair with this distance calls them "same".
            let d = distances[order[i]]
            while i < n, distances[order[i]] == d { correct += same[order[i]] ? 1 : -1; i += 1 }
            if correct > best {
                best = correct
                tau = i < n ? (d + distances[order[i]]) / 2 : d + 1
            }
        }
        return (tau, Double(best) / Double(n))
    }

    /// Fraction of pairs called right at `tau`.
    public static func accuracy(distances: [Double], same: [Bool], tau: Double) -> Double {
        guard !distances.isEmpty else { return 0 }
        return Double(zip(distances, same).filter { ($0 < tau) == $1 }.count) / Double(distances.count)
    }

    /// The ten-fold protocol over pairs tagged with their fold (0..<k).
    public static func kFold(distances: [Double], same: [Bool], folds: [Int]) -> VerificationScore {
        precondition(distances.count == same.count && same.count == folds.count, "kFold: lengths differ")
        let ids = Array(Set(folds)).sorted()
        var accuracies: [Double] = [], taus: [Double] = []
        for f in ids {
            let train = folds.indices.filter { folds[$0] != f }, test = folds.indices.filter { folds[$0] == f }
            let tau = train.isEmpty ? bestThreshold(distances: test.map { distances[$0] }, same: test.map { same[$0] }).tau
                : bestThreshold(distances: train.map { distances[$0] }, same: train.map { same[$0] }).tau
            taus.append(tau)
            accuracies.append(accuracy(distances: test.map { distances[$0] }, same: test.map { same[$0] }, tau: tau))
        }
        let mean = accuracies.reduce(0, +) / Double(max(accuracies.count, 1))
        let variance = accuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(accuracies.count, 1))
        let curve = ROCCurve(distances: distances, same: same)
        return VerificationScore(pairs: distances.count, folds: ids.count, accuracyMean: mean, accuracyStd: variance.squareRoot(),
                                 foldAccuracies: accuracies, foldTaus: taus, auc: curve.auc)
    }
}

/// The ten-fold figures.
public struct VerificationScore: Codable, Equatable, Sendable {
    public var pairs: Int
    public var folds: Int
    public var accuracyMean: Double
    public var accuracyStd: Double
    public var foldAccuracies: [Double]
    public var foldTaus: [Double]
    public var auc: Double

    enum CodingKeys: String, CodingKey {
        case pairs, folds, auc
        case accuracyMean = "accuracy_mean", accuracyStd = "accuracy_std", foldAccuracies = "fold_accuracies", foldTaus = "fold_taus"
    }
}

/// The receiver operating characteristic of "same when distance < tau" as
/// tau sweeps the sorted distances: (false-positive rate, true-positive
/// rate) points from (0, 0) to (1, 1), and the area under it (trapezoids;
/// tied distances move both rates at once).
public struct ROCCurve: Equatable, Sendable {
    public var points: [(fpr: Double, tpr: Double)]
    public var auc: Double

    public init(distances: [Double], same: [Bool]) {
        let order = distances.indices.sorted { distances[$0] < distances[$1] }
        let p = Double(max(same.filter { $0 }.count, 1)), n = Double(max(same.filter { !$0 }.count, 1))
        var tp = 0.0, fp = 0.0, pts: [(fpr: Double, tpr: Double)] = [(0, 0)], area = 0.0
        var i = 0
        while i < order.count {
            let d = distances[order[i]]
            while i < order.count, distances[order[i]] == d { if same[order[i]] { tp += 1 } else { fp += 1 }; i += 1 }
            let next = (fpr: fp / n, tpr: tp / p)
            area += (next.fpr - pts.last!.fpr) * (next.tpr + pts.last!.tpr) / 2
            pts.append(next)
        }
        (points, auc) = (pts, area)
    }

    public static func == (a: ROCCurve, b: ROCCurve) -> Bool {
        a.auc == b.auc && a.points.count == b.points.count && zip(a.points, b.points).allSatisfy { $0.fpr == $1.fpr && $0.tpr == $1.tpr }
    }

    /// An SVG picture of the curve (at most `maxPoints` points), with the chance diagonal and the AUC.
    public func svg(title: String, maxPoints: Int = 400) -> String {
        let (w, h, m) = (360.0, 360.0, 40.0)
        let step = max(1, points.count / maxPoints)
        var kept = stride(from: 0, to: points.count, by: step).map { points[$0] }
        if kept.last! != points.last! { kept.append(points.last!) }
        func x(_ v: Double) -> String { String(format: "%.1f", m + v * (w - 2 * m)) }
        func y(_ v: Double) -> String { String(format: "%.1f", h - m - v * (h - 2 * m)) }
        let path = kept.map { "\(x($0.fpr)),\(y($0.tpr))" }.joined(separator: " ")
        let esc = title.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(w / 2))" y="20" text-anchor="middle" font-family="sans-serif" font-size="13">\(esc) (AUC \(String(format: "%.4f", auc)))</text>
        <rect x="\(Int(m))" y="\(Int(m))" width="\(Int(w - 2 * m))" height="\(Int(h - 2 * m))" fill="none" stroke="#444"/>
        <line x1="\(x(0))" y1="\(y(0))" x2="\(x(1))" y2="\(y(1))" stroke="#bbb" stroke-dasharray="4 4"/>
        <polyline points="\(path)" fill="none" stroke="#1f77b4" stroke-width="2"/>
        <text x="\(Int(w / 2))" y="\(Int(h - 8))" text-anchor="middle" font-family="sans-serif" font-size="12">false-positive rate</text>
        <text x="12" y="\(Int(h / 2))" text-anchor="middle" font-family="sans-serif" font-size="12" transform="rotate(-90 12 \(Int(h / 2)))">true-positive rate</text>
        </svg>

        """
    }
}
