import Foundation

/// A JSON number or a nested array of them, flattened row-major with its shape
/// (so `[[1,2],[3,4]]` is data [1,2,3,4], shape [2,2]). Ragged arrays are refused.
public struct NestedNumbers: Decodable, Sendable {
    public var data: [Float]
    public var shape: [Int]

    public init(from decoder: Decoder) throws {
        var data: [Float] = []
        let shape = try Self.read(decoder, into: &data)
        self.data = data
        self.shape = shape ?? []
    }

    /// Appends the numbers below `decoder` to `data` and returns their shape
    /// (nil for a scalar).
    private static func read(_ decoder: Decoder, into data: inout [Float]) throws -> [Int]? {
        if let single = try? decoder.singleValueContainer(), let value = try? single.decode(Float.self) {
            data.append(value)
            return nil
        }
        var container = try decoder.unkeyedContainer()
        var childShape: [Int]?? = .none
        var count = 0
        while !container.isAtEnd {
            // Fast path for a flat row of numbers.
            if let value = try? container.decode(Float.self) {
                if case .some(let shape) = childShape, shape != nil {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "ragged array: mixed numbers and arrays")
                }
                childShape = .some(nil)
                data.append(value)
                count += 1
                continue
            }
            let nested = try container.superDecoder()
            let shape = try read(nested, into: &data)
            if case .some(let previous) = childShape, previous != shape {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "ragged array: rows of different shapes")
            }
            childShape = .some(shape)
            count += 1
        }
        let inner: [Int] = (childShape ?? nil) ?? []
        return [count] + inner
    }
}
