@testable import DLJobs
import DLTrain
import DLJobsTesting
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Collects elements and text of an SVG document; fails on malformed XML.
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var current = ""

    static func parse(_ svg: String) throws -> SVGCollector {
        let c = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = c
        guard parser.parse() else {
            throw NSError(domain: "svg", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(parser.parserError.map { "\($0)" } ?? "parse error") at line \(parser.lineNumber)"])
        }
        return c
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current.trimmingCharacters(in: .whitespacesAndNewlines)) }
        current = ""
    }

    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

final class CurvesSVGTests: XCTestCase {
    let history = (1...5).map { e in
        epochMetrics(e, trainLoss: 1.0 / Float(e), trainAccuracy: 0.6 + 0.05 * Float(e),
                     devLoss: 1.1 / Float(e) + 0.05, devAccuracy: 0.55 + 0.05 * Float(e))
    }

    func testValidSVGWithTwoPanelsFourCurvesAxesAndLegend() throws {
        let svg = CurvesSVG.render(history.reversed(), title: "job <01ABC> & co")
        let doc = try SVGCollector.parse(svg)
        XCTAssertEqual(doc.elements.first?.name, "svg")
        XCTAssertEqual(doc.elements.first?.attributes["xmlns"], "http://www.w3.org/2000/svg")
        let lines = doc.all("polyline")
        XCTAssertEqual(lines.map { $0["class"] }, ["train", "dev", "train", "dev"])
        XCTAssertEqual(lines.map { $0["points"]!.split(separator: " ").count }, [5, 5, 5, 5])
        XCTAssertNil(lines[0]["stroke-dasharray"])
        XCTAssertEqual(lines[1]["stroke-dasharray"], "6 4")
        XCTAssertEqual(doc.all("circle").count, 20)
        XCTAssertTrue(doc.texts.contains("job <01ABC> & co"), "title escaped and parsed back")
        for t in ["Loss", "Accuracy", "epoch", "loss", "accuracy"] { XCTAssertTrue(doc.texts.contains(t), t) }
        XCTAssertEqual(doc.texts.filter { $0 == "train" }.count, 2, "a legend per panel")
        XCTAssertEqual(doc.texts.filter { $0 == "dev" }.count, 2)
        for e in 1...5 { XCTAssertTrue(doc.texts.contains("\(e)"), "epoch tick \(e)") }
        XCTAssertTrue(doc.texts.contains("90%"), "accuracy ticks in percent: \(doc.texts)")
        // Train loss falls: the curve's y coordinates increase (SVG y grows downwards).
        let ys = lines[0]["points"]!.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        XCTAssertEqual(ys, ys.sorted())
        // Epoch order follows the epoch numbers, not the input order.
        let xs = lines[0]["points"]!.split(separator: " ").map { Double($0.split(separator: ",")[0])! }
        XCTAssertEqual(xs, xs.sorted())
    }

    func testNoMetricsAndSingleEpochAndMissingDevAndNaN() throws {
        let empty = try SVGCollector.parse(CurvesSVG.render([]))
        XCTAssertEqual(empty.all("polyline").count, 0)
        XCTAssertEqual(empty.texts.filter { $0 == "no epochs yet" }.count, 2)

        let one = try SVGCollector.parse(CurvesSVG.render([epochMetrics(1, trainLoss: 0.7, trainAccuracy: 0.8)]))
        XCTAssertEqual(one.all("polyline").map { $0["class"] }, ["train", "train"], "no dev curve without dev metrics")
        XCTAssertFalse(one.texts.contains("dev"))

        let nan = [epochMetrics(1, trainLoss: 0.7, trainAccuracy: 0.8), epochMetrics(2, trainLoss: .nan, trainAccuracy: 0.1)]
        let doc = try SVGCollector.parse(CurvesSVG.render(nan))
        XCTAssertEqual(doc.all("polyline")[0]["points"]!.split(separator: " ").count, 1, "NaN points are skipped")
        XCTAssertFalse(CurvesSVG.render(nan).contains("nan"))
    }

    func testNiceTicks() {
        // (1.87 - 0.23) / 5 = 0.328 -> 0.5.
        XCTAssertEqual(CurvesSVG.niceTicks(0.23, 1.87, count: 6).values, [0, 0.5, 1, 1.5, 2])
        XCTAssertEqual(CurvesSVG.niceTicks(0, 100, count: 6).values, [0, 20, 40, 60, 80, 100])
        XCTAssertEqual(CurvesSVG.niceTicks(0.812, 0.915, count: 6).step, 0.02, accuracy: 1e-12)
        XCTAssertEqual(CurvesSVG.label(0.9, percent: true, step: 0.02), "90%")
        XCTAssertEqual(CurvesSVG.label(0.25, percent: false, step: 0.05), "0.25")
        XCTAssertEqual(CurvesSVG.label(3, percent: false, step: 1), "3")
    }
}
