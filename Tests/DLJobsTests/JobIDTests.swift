import DLJobs
import DLJobsTesting
import XCTest

final class JobIDTests: XCTestCase {
    func testIdsSortByCreationAndEncodeTheirTime() {
        let gen = JobIDGenerator()
        let t = Date(timeIntervalSince1970: 1_767_225_600.123)
        let a = gen.next(at: t), b = gen.next(at: t), c = gen.next(at: t + 0.001)
        XCTAssertEqual(a.rawValue.count, 26)
        XCTAssertLessThan(a, b, "monotonic within one millisecond")
        XCTAssertLessThan(b, c)
        XCTAssertEqual(a.date.timeIntervalSince1970, 1_767_225_600.123, accuracy: 0.0005)
        XCTAssertEqual(JobID(a.rawValue.lowercased()), a)
    }

    func testRejectsMalformedIds() {
        XCTAssertNil(JobID("not-an-id"))
        XCTAssertNil(JobID(String(repeating: "0", count: 25)))
        XCTAssertNil(JobID("8" + String(repeating: "0", count: 25)), "more than 128 bits")
        XCTAssertNil(JobID(String(repeating: "U", count: 26)), "U is not in Crockford base32")
        XCTAssertNotNil(JobID("01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    }

    func testKnownEncoding() {
        // The ULID spec's example time 1469918176385 ms encodes as 01ARYZ6S41.
        var rng = SystemRandomNumberGenerator()
        let id = JobID(date: Date(timeIntervalSince1970: 1_469_918_176.385), using: &rng)
        XCTAssertEqual(String(id.rawValue.prefix(10)), "01ARYZ6S41")
    }
}
