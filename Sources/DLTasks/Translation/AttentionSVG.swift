import Foundation

/// An attention alignment as an SVG heat map: source tokens along the top
/// (left to right), target tokens down the left side, one square per pair,
/// darker for more attention, the weight in each square's tooltip. Every
/// piece of text is escaped.
enum AttentionSVG {
    static let cell = 28.0
    static let charWidth = 7.5

    static func render(_ a: Translation.Attention, title: String) -> String {
        let rows = a.weights.count, columns = a.sourceTokens.count
        let left = 16 + charWidth * Double(max(4, a.targetTokens.map(\.count).max() ?? 0))
        let top = 40 + charWidth * Double(max(4, a.sourceTokens.map(\.count).max() ?? 0))
        let width = left + cell * Double(columns) + 16, height = top + cell * Double(rows) + 16
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" \
            viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="12">
            <title>\(escape(title))</title>
            <text x="8" y="20" font-size="14">\(escape(title))</text>

            """
        for (j, token) in a.sourceTokens.enumerated() {
            let x = left + cell * (Double(j) + 0.5), y = top - 6
            svg += #"<text class="source" x="\#(fmt(x))" y="\#(fmt(y))" transform="rotate(-60 \#(fmt(x)) \#(fmt(y)))">\#(escape(token))</text>"# + "\n"
        }
        for (i, token) in a.targetTokens.enumerated() {
            let y = top + cell * (Double(i) + 0.5) + 4
            svg += #"<text class="target" x="\#(fmt(left - 6))" y="\#(fmt(y))" text-anchor="end">\#(escape(token))</text>"# + "\n"
        }
        for (i, row) in a.weights.enumerated() {
            for (j, w) in row.prefix(columns).enumerated() {
                let shade = Int((255 * (1 - Double(min(max(w, 0), 1)))).rounded())
                let target = i < a.targetTokens.count ? a.targetTokens[i] : "", source = a.sourceTokens[j]
                svg += #"<rect x="\#(fmt(left + cell * Double(j)))" y="\#(fmt(top + cell * Double(i)))" "#
                    + #"width="\#(fmt(cell))" height="\#(fmt(cell))" fill="rgb(\#(shade),\#(shade),255)" stroke="rgb(221,221,221)">"#
                    + "<title>\(escape(target)) \u{2192} \(escape(source)): \(String(format: "%.3f", Double(w)))</title></rect>\n"
            }
        }
        svg += "</svg>\n"
        return svg
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Text and attribute values: the five XML specials, and control
    /// characters XML 1.0 cannot hold dropped.
    static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            default:
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
