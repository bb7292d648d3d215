@testable import DLServe
import Foundation
import Logging
import XCTest

/// The pieces the request path was made cheaper with: request ids, the
/// buffered log handler, the access log's duration format.
final class HotPathTests: XCTestCase {
    func testGeneratedRequestIDsAreLowercaseVersion4UUIDsAndDistinct() throws {
        var seen = Set<String>()
        for _ in 0..<20_000 {
            let id = RequestID.make()
            XCTAssertEqual(id, id.lowercased())
            let uuid = try XCTUnwrap(UUID(uuidString: id), id)
            XCTAssertEqual(uuid.uuidString.lowercased(), id)
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            XCTAssertEqual(bytes[6] >> 4, 4, id)  // version 4
            XCTAssertEqual(bytes[8] >> 6, 0b10, id)  // RFC 4122 variant
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 20_000)
    }

    func testDurationFormat() {
        XCTAssertEqual(RequestMiddleware.milliseconds(0.0012345), "1.235")
        XCTAssertEqual(RequestMiddleware.milliseconds(0), "0.000")
        XCTAssertEqual(RequestMiddleware.milliseconds(0.000_05), "0.050")
        XCTAssertEqual(RequestMiddleware.milliseconds(12.5), "12500.000")
        XCTAssertEqual(RequestMiddleware.milliseconds(0.0009996), "1.000")
    }

    /// Lines in StreamLogHandler's format, metadata sorted; info lines are
    /// held briefly and sent together, warnings at once.
    func testLogHandlerFormatAndBuffering() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        let flags = fcntl(fds[0], F_GETFL)
        _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
        let sink = LogSink(fd: fds[1], delay: 0.3)
        var logger = Logger(label: "t") { DaemonLogHandler(label: $0, level: .info, sink: sink) }
        logger[metadataKey: "request_id"] = "r-1"
        logger.debug("hidden")
        logger.info("GET / 200", metadata: ["status": "200", "a": "x"])
        XCTAssertEqual(read(fds[0]), "", "an info line waits for the writer")
        logger.warning("trouble")
        let text = read(fds[0])
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, text)
        XCTAssertNotNil(lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info t : a=x request_id=r-1 status=200 \[DLServeTests\] GET / 200$"#,
                                       options: .regularExpression), lines[0])
        XCTAssertTrue(lines[1].hasSuffix(" warning t : request_id=r-1 [DLServeTests] trouble"), lines[1])
        logger.info("later")
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertTrue(read(fds[0]).hasSuffix("[DLServeTests] later\n"), "the writer thread sends held lines")
        logger.info("at exit")
        sink.flush()
        XCTAssertTrue(read(fds[0]).hasSuffix("at exit\n"))
        close(fds[1])
    }

    private func read(_ fd: Int32) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Foundation.read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
