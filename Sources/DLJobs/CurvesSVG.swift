import DLTrain
import Foundation

/// Learning curves as a standalone SVG picture: two panels, loss and
/// accuracy per epoch, each with the training curve (solid) and the dev curve
/// (dashed), axes with "nice" ticks, axis labels and a legend.
public enum CurvesSVG {
    static let panelWidth = 460.0, panelHeight = 320.0
    static let margin = (left: 64.0, right: 16.0, top: 40.0, bottom: 48.0)
    static let trainColor = "#1f77b4", devColor = "#ff7f0e"

    /// The SVG document for `metrics` (one entry per epoch, any order).
    /// Non-finite values are left out of the curves; no metrics give a
    /// picture that says so.
    public static func render(_ metrics: [EpochMetrics], title: String? = nil) -> String {
        let m = metrics.sorted { $0.epoch < $1.epoch }
        let width = 2 * panelWidth, height = panelHeight + (title == nil ? 0 : 28)
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" \
            viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        var top = 0.0
        if let title {
            svg += #"<text x="\#(fmt(width / 2))" y="20" text-anchor="middle" font-size="16">\#(escape(title))</text>"# + "\n"
            top = 28
        }
        let epochs = m.map { Double($0.epoch) }
        svg += panel(title: "Loss", x0: 0, y0: top, epochs: epochs,
                     train: m.map { Double($0.trainLoss) }, dev: m.map { $0.devLoss.map(Double.init) },
                     percent: false)
        svg += panel(title: "Accuracy", x0: panelWidth, y0: top, epochs: epochs,
                     train: m.map { Double($0.trainAccuracy) }, dev: m.map { $0.devAccuracy.map(Double.init) },
                     percent: true)
        svg += "</svg>\n"
        return svg
    }

    // MARK: - Panels

    static func panel(title: String, x0: Double, y0: Double, epochs: [Double],
                      train: [Double], dev: [Double?], percent: Bool) -> String {
        let plot = (x: x0 + margin.left, y: y0 + margin.top,
                    w: panelWidth - margin.left - margin.right, h: panelHeight - margin.top - margin.bottom)
        var s = #"<g class="panel">"# + "\n"
        s += #"<text x="\#(fmt(plot.x + plot.w / 2))" y="\#(fmt(y0 + 24))" text-anchor="middle" font-size="14" font-weight="bold">\#(title)</text>"# + "\n"
        let trainPoints = zip(epochs, train).filter { $0.1.isFinite }
        let devPoints = zip(epochs, dev).compactMap { e, v in v.flatMap { $0.isFinite ? (e, $0) : nil } }
        let values = trainPoints.map(\.1) + devPoints.map(\.1)
        guard !values.isEmpty else {
            s += #"<rect x="\#(fmt(plot.x))" y="\#(fmt(plot.y))" width="\#(fmt(plot.w))" height="\#(fmt(plot.h))" fill="none" stroke="rgb(136,136,136)"/>"# + "\n"
            s += #"<text x="\#(fmt(plot.x + plot.w / 2))" y="\#(fmt(plot.y + plot.h / 2))" text-anchor="middle" fill="rgb(102,102,102)">no epochs yet</text>"# + "\n"
            return s + "</g>\n"
        }
        // Ranges: epochs 1...max (at least one unit wide), values padded to nice ticks.
        let xMax = max(epochs.max() ?? 1, 2)
        let xStep = max(1, nice((xMax - 1) / 7, round: true))
        let xTicks = [1.0] + stride(from: xStep, through: xMax + 1e-9, by: xStep).filter { $0 > 1 }
        var lo = values.min()!, hi = values.max()!
        if percent { lo = max(0, lo); hi = min(1, hi) }
        if hi - lo < 1e-9 { lo -= max(abs(lo) * 0.1, 0.01); hi += max(abs(hi) * 0.1, 0.01) }
        let (yTicks, yStep) = niceTicks(lo, hi, count: 6)
        let yLo = min(lo, yTicks.first!), yHi = max(hi, yTicks.last!)
        func px(_ e: Double) -> Double { plot.x + (e - 1) / (xMax - 1) * plot.w }
        func py(_ v: Double) -> Double { plot.y + plot.h - (v - yLo) / (yHi - yLo) * plot.h }

        // Grid and ticks.
        for t in yTicks {
            let y = py(t)
            s += #"<line x1="\#(fmt(plot.x))" y1="\#(fmt(y))" x2="\#(fmt(plot.x + plot.w))" y2="\#(fmt(y))" stroke="rgb(229,229,229)"/>"# + "\n"
            s += #"<text x="\#(fmt(plot.x - 6))" y="\#(fmt(y + 4))" text-anchor="end">\#(label(t, percent: percent, step: yStep))</text>"# + "\n"
        }
        for t in xTicks {
            let x = px(t)
            s += #"<line x1="\#(fmt(x))" y1="\#(fmt(plot.y + plot.h))" x2="\#(fmt(x))" y2="\#(fmt(plot.y + plot.h + 5))" stroke="rgb(51,51,51)"/>"# + "\n"
            s += #"<text x="\#(fmt(x))" y="\#(fmt(plot.y + plot.h + 18))" text-anchor="middle">\#(Int(t))</text>"# + "\n"
        }
        // Axes and their labels.
        s += #"<line x1="\#(fmt(plot.x))" y1="\#(fmt(plot.y))" x2="\#(fmt(plot.x))" y2="\#(fmt(plot.y + plot.h))" stroke="rgb(51,51,51)"/>"# + "\n"
        s += #"<line x1="\#(fmt(plot.x))" y1="\#(fmt(plot.y + plot.h))" x2="\#(fmt(plot.x + plot.w))" y2="\#(fmt(plot.y + plot.h))" stroke="rgb(51,51,51)"/>"# + "\n"
        s += #"<text x="\#(fmt(plot.x + plot.w / 2))" y="\#(fmt(plot.y + plot.h + 38))" text-anchor="middle">epoch</text>"# + "\n"
        let yLabelX = x0 + 16, yLabelY = plot.y + plot.h / 2
        s += #"<text x="\#(fmt(yLabelX))" y="\#(fmt(yLabelY))" text-anchor="middle" transform="rotate(-90 \#(fmt(yLabelX)) \#(fmt(yLabelY)))">\#(title.lowercased())</text>"# + "\n"
        // Curves.
        s += curve(trainPoints.map { (px($0.0), py($0.1)) }, color: trainColor, dashed: false, name: "train")
        s += curve(devPoints.map { (px($0.0), py($0.1)) }, color: devColor, dashed: true, name: "dev")
        // Legend in the corner the curves leave free: top right for the
        // falling loss, bottom right for the rising accuracy; on a white box.
        let entries = (!trainPoints.isEmpty ? 1 : 0) + (!devPoints.isEmpty ? 1 : 0)
        var ly = percent ? plot.y + plot.h - 8 - 16 * Double(entries - 1) : plot.y + 8
        s += #"<rect x="\#(fmt(plot.x + plot.w - 76))" y="\#(fmt(ly - 10))" width="72" height="\#(fmt(16 * Double(entries) + 4))" fill="white" fill-opacity="0.85" stroke="rgb(204,204,204)"/>"# + "\n"
        for (name, color, dashed, present) in [("train", trainColor, false, !trainPoints.isEmpty),
                                               ("dev", devColor, true, !devPoints.isEmpty)] where present {
            let lx = plot.x + plot.w - 70
            s += #"<line x1="\#(fmt(lx))" y1="\#(fmt(ly))" x2="\#(fmt(lx + 22))" y2="\#(fmt(ly))" stroke="\#(color)" stroke-width="2"\#(dashed ? #" stroke-dasharray="6 4""# : "")/>"# + "\n"
            s += #"<text x="\#(fmt(lx + 28))" y="\#(fmt(ly + 4))">\#(name)</text>"# + "\n"
            ly += 16
        }
        return s + "</g>\n"
    }

    static func curve(_ points: [(Double, Double)], color: String, dashed: Bool, name: String) -> String {
        guard !points.isEmpty else { return "" }
        let coords = points.map { "\(fmt($0.0)),\(fmt($0.1))" }.joined(separator: " ")
        var s = #"<polyline class="\#(name)" fill="none" stroke="\#(color)" stroke-width="2"\#(dashed ? #" stroke-dasharray="6 4""# : "") points="\#(coords)"/>"# + "\n"
        for (x, y) in points {
            s += #"<circle cx="\#(fmt(x))" cy="\#(fmt(y))" r="3" fill="\#(color)"/>"# + "\n"
        }
        return s
    }

    // MARK: - Ticks and formatting

    /// Round tick values covering [lo, hi] with about `count` ticks at a step
    /// of 1, 2 or 5 times a power of ten (Heckbert, "Nice numbers for graph
    /// labels", Graphics Gems, 1990).
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> (values: [Double], step: Double) {
        precondition(hi > lo && count >= 2, "niceTicks: range [\(lo), \(hi)], count \(count)")
        let step = nice((hi - lo) / Double(count - 1), round: true)
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        let n = Int(((last - first) / step).rounded()) + 1
        return ((0..<n).map { first + Double($0) * step }, step)
    }

    static func nice(_ x: Double, round: Bool) -> Double {
        let exponent = (log10(x)).rounded(.down)
        let f = x / pow(10, exponent)
        let nf: Double = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10)
        return nf * pow(10, exponent)
    }

    static func label(_ v: Double, percent: Bool, step: Double) -> String {
        let scaled = percent ? v * 100 : v, scaledStep = percent ? step * 100 : step
        let decimals = max(0, Int((-log10(scaledStep)).rounded(.up)))
        let text = String(format: "%.\(decimals)f", abs(scaled) < scaledStep / 1e6 ? 0 : scaled)
        return percent ? text + "%" : text
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
