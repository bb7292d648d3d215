import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An SVG answer parsed with Foundation's XMLParser: whether it is
/// well-formed, how many of each element it has, and its text and title
/// contents (entities decoded).
public final class SVGDocument: NSObject, XMLParserDelegate {
    public private(set) var elements: [String: Int] = [:]
    public private(set) var texts: [String] = []
    public private(set) var ok = false
    public private(set) var error: String?
    private var current = ""

    public init(_ data: Data) {
        super.init()
        let parser = XMLParser(data: data)
        parser.delegate = self
        ok = parser.parse()
        error = parser.parserError.map { "\($0)" }
    }

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                       attributes: [String: String] = [:]) {
        elements[name, default: 0] += 1
        current = ""
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    public func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" || name == "title" { texts.append(current) }
        current = ""
    }
}
