import DLServe
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify over a datagram Unix socket, received by a socket the test binds.
final class SystemdNotifierTests: XCTestCase {
    func testSendsDatagramsToNotifySocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dlserve-notify-\(UUID().uuidString.prefix(8)).sock").path
        let fd = try bindDatagramSocket(path)
        defer {
            close(fd)
            unlink(path)
        }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": String(getpid())])
        XCTAssertTrue(notifier.isActive)
        XCTAssertEqual(notifier.watchdogInterval, .seconds(2))
        notifier.ready(status: "serving 1 of 1 models")
        XCTAssertEqual(try receive(fd), "READY=1\nSTATUS=serving 1 of 1 models")
        notifier.watchdog()
        XCTAssertEqual(try receive(fd), "WATCHDOG=1")
        notifier.stopping()
        XCTAssertEqual(try receive(fd), "STOPPING=1")
    }

    func testInactiveWithoutNotifySocketAndWatchdogForAnotherPID() {
        let none = SystemdNotifier(environment: [:])
        XCTAssertFalse(none.isActive)
        XCTAssertFalse(none.send("READY=1"))
        XCTAssertNil(none.watchdogInterval)
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/tmp/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"])
        XCTAssertNil(other.watchdogInterval)
    }
}

func bindDatagramSocket(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    XCTAssertGreaterThanOrEqual(fd, 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    XCTAssertEqual(result, 0, String(cString: strerror(errno)))
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

func receive(_ fd: Int32) throws -> String {
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = recv(fd, &buffer, buffer.count, 0)
    XCTAssertGreaterThan(n, 0)
    return String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self)
}
