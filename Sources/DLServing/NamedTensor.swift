/// A named tensor of V2 infer, in or out. Numeric datatypes (FP32, INT32,
/// INT64, UINT8, ...) hold their values in `data` as Float (token ids and
/// pixels are exact up to 2^24); BYTES holds one byte string per element in
/// `bytes`, row-major.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var datatype: String
    public var shape: [Int]
    public var data: [Float]
    public var bytes: [[UInt8]]?

    public init(name: String, datatype: String = "FP32", shape: [Int], data: [Float] = [], bytes: [[UInt8]]? = nil) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
        self.bytes = bytes
    }

    /// Number of elements the shape holds.
    public var count: Int { shape.reduce(1, *) }

    public static let integerTypes: Set<String> = ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]
    public static let numericTypes: Set<String> = integerTypes.union(["FP16", "FP32", "FP64"])
}
