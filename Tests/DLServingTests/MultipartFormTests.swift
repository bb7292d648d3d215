import DLServing
import Foundation
import XCTest

/// multipart/form-data bodies as curl -F sends them, and the malformed ones a client can send.
final class MultipartFormTests: XCTestCase {
    func body(_ text: String, boundary: String = "XyZ") -> TaskBody {
        let (type, params) = TaskBody.parseContentType("multipart/form-data; boundary=\"\(boundary)\"")
        return TaskBody(bytes: Array(text.utf8), mediaType: type, mediaTypeParameters: params)
    }

    func testSplitsFieldsAndFilesKeepingBinaryBytes() throws {
        let payload = "line1\r\n--XyZnot-a-boundary\r\n\u{1}\u{2}"
        let text = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\(payload)\r\n"
            + "--XyZ--\r\nepilogue"
        let form = try MultipartForm(body(text))
        XCTAssertEqual(form.parts.map(\.name), ["name", "image"])
        XCTAssertEqual(String(decoding: form.parts[0].bytes, as: UTF8.self), "Ada")
        XCTAssertNil(form.parts[0].filename)
        XCTAssertEqual(form.parts[1].filename, "a.png")
        XCTAssertEqual(form.parts[1].contentType, "image/png")
        XCTAssertEqual(String(decoding: form.parts[1].bytes, as: UTF8.self), payload)
    }

    func testMalformedBodiesAreBadRequestsNamingTheProblem() {
        func fails(_ text: String, _ expected: String, boundary: String = "XyZ", line: UInt = #line) {
            XCTAssertThrowsError(try MultipartForm(body(text, boundary: boundary)), line: line) { error in
                guard case .badRequest(let m) = error as? ServingError else { return XCTFail("\(error)", line: line) }
                XCTAssertTrue(m.contains(expected), "'\(m)' lacks '\(expected)'", line: line)
            }
        }
        fails("no boundary here", "never occurs")
        fails("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue", "not closed")
        fails("--XyZ\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--XyZ--", "no Content-Disposition name")
        fails("--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "headers never end")
        fails("--XyZjunk", "not followed by CRLF")
        XCTAssertThrowsError(try MultipartForm(TaskBody(bytes: [], mediaType: "multipart/form-data")))
    }

    func testContentTypeParameters() {
        let (type, params) = TaskBody.parseContentType("Multipart/Form-Data ; Boundary=abc ; charset=utf-8")
        XCTAssertEqual(type, "multipart/form-data")
        XCTAssertEqual(params, ["boundary": "abc", "charset": "utf-8"])
        XCTAssertEqual(TaskBody.parseContentType(nil).mediaType, nil)
    }
}
