import DLTensor
import Foundation
import XCTest

/// Compares shapes first, then every value within atol + rtol * |expected|.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-4,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape differs \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    assertClose(actual.data, expected.data, rtol: rtol, atol: atol, message, file: file, line: line)
}

public func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-4,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count differs \(message)", file: file, line: line)
    guard actual.count == expected.count else { return }
    var bad = 0
    var first = ""
    for i in 0..<actual.count {
        let tol = atol + rtol * abs(expected[i])
        if !(abs(actual[i] - expected[i]) <= tol) {
            if bad == 0 { first = "index \(i): \(actual[i]) vs \(expected[i])" }
            bad += 1
        }
    }
    XCTAssertEqual(bad, 0, "\(bad) of \(actual.count) values differ; first at \(first) \(message)", file: file, line: line)
}

/// Asserts the finite-difference relative error of d f / d input is below `tolerance`.
public func assertGradient(
    _ input: Tensor, epsilon: Float = 1e-2, tolerance: Double = 1e-2, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor
) {
    let r = GradientCheck.check(input, epsilon: epsilon, f)
    XCTAssertLessThan(r.relativeError, tolerance, "\(message): \(r)", file: file, line: line)
}

/// Reads a fixture JSON file of named tensors: {"name": {"shape": [...], "data": [...]}}.
public func loadFixtures(_ url: URL) throws -> [String: Tensor] {
    let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [String: Any]]
    var out: [String: Tensor] = [:]
    for (k, v) in raw {
        let shape = (v["shape"] as! [NSNumber]).map(\.intValue)
        let data = (v["data"] as! [NSNumber]).map(\.floatValue)
        out[k] = Tensor(shape: shape, data: data)
    }
    return out
}
