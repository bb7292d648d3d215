import Foundation

/// A labelled text file as `make data-sentiment` writes it: one example a
/// line, `LABEL<TAB>TEXT`, UTF-8.
public struct LabelledText: Sendable {
    public var labels: [String]
    public var texts: [String]

    public init(labels: [String], texts: [String]) {
        self.labels = labels
        self.texts = texts
    }

    public static func load(_ url: URL) throws -> LabelledText {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TextError.data("\(url.path) does not exist")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TextError.data("\(url.path) is not UTF-8") }
        var out = LabelledText(labels: [], texts: [])
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let tab = line.firstIndex(of: "\t") else { throw TextError.data("\(url.lastPathComponent):\(i + 1): no tab") }
            out.labels.append(String(line[..<tab]))
            out.texts.append(String(line[line.index(after: tab)...]))
        }
        return out
    }
}
