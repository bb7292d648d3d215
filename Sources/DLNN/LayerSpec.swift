import Foundation

/// One node of `model.json`:
/// `{"name": "conv1", "type": "conv2d", "inputs": ["input"], "attrs": {"out_channels": 32, ...}}`.
/// The graph's input is the reserved name "input"; the node named by
/// `ModelSpec.output` produces the model's output (logits for classifiers).
public struct LayerSpec: Codable, Equatable, Sendable {
    public var name: String
    public var type: String
    public var inputs: [String]
    public var attrs: [String: JSONValue]
    /// The attributes the layer's builder has read (every accessor below
    /// records its key), so the graph can refuse those no builder reads: a
    /// typo ("p" for "keep_prob") is an error naming it, not a silent default.
    let reads = ReadKeys()

    final class ReadKeys: @unchecked Sendable {
        private let lock = NSLock()
        private var keys: Set<String> = []
        func insert(_ key: String) { lock.lock(); keys.insert(key); lock.unlock() }
        var all: Set<String> { lock.lock(); defer { lock.unlock() }; return keys }
    }

    public init(name: String, type: String, inputs: [String], attrs: [String: JSONValue] = [:]) {
        self.name = name
        self.type = type
        self.inputs = inputs
        self.attrs = attrs
    }

    enum CodingKeys: String, CodingKey { case name, type, inputs, attrs }

    public static func == (a: LayerSpec, b: LayerSpec) -> Bool {
        a.name == b.name && a.type == b.type && a.inputs == b.inputs && a.attrs == b.attrs
    }

    /// Attributes present in model.json that the layer's builder never read.
    public var unreadAttributes: [String] { Set(attrs.keys).subtracting(reads.all).sorted() }

    /// An attribute's raw value (nil when absent), recorded as read.
    public func attr(_ key: String) -> JSONValue? {
        reads.insert(key)
        return attrs[key]
    }

    /// A whole number that fits an Int exactly.
    static func integer(_ v: Double) -> Int? { v == v.rounded() && abs(v) <= 9_007_199_254_740_992 ? Int(v) : nil }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(String.self, forKey: .type)
        inputs = try c.decodeIfPresent([String].self, forKey: .inputs) ?? []
        attrs = try c.decodeIfPresent([String: JSONValue].self, forKey: .attrs) ?? [:]
    }

    // Typed attribute access with errors that name the node and attribute.
    public func int(_ key: String, default d: Int? = nil) throws -> Int {
        switch attr(key) {
        case .number(let v)? where Self.integer(v) != nil: return Self.integer(v)!
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be an integer")
    }

    public func float(_ key: String, default d: Float? = nil) throws -> Float {
        switch attr(key) {
        case .number(let v)?: return Float(v)
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be a number")
    }

    public func string(_ key: String, default d: String? = nil) throws -> String {
        switch attr(key) {
        case .string(let v)?: return v
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be a string")
    }

    public func bool(_ key: String, default d: Bool? = nil) throws -> Bool {
        switch attr(key) {
        case .bool(let v)?: return v
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be true or false")
    }

    public func ints(_ key: String, default d: [Int]? = nil) throws -> [Int] {
        switch attr(key) {
        case .array(let a)?:
            let v = a.compactMap { x -> Int? in if case .number(let n) = x { return Self.integer(n) }; return nil }
            if v.count == a.count { return v }
        case .number(let n)? where Self.integer(n) != nil: return [Self.integer(n)!]
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be an integer or a list of integers")
    }
}

/// A JSON value, for free-form attributes.
public enum JSONValue: Codable, Equatable, Sendable {
    case number(Double), string(String), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }
}

extension JSONValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
{
    public init(integerLiteral v: Int) { self = .number(Double(v)) }
    public init(floatLiteral v: Double) { self = .number(v) }
    public init(stringLiteral v: String) { self = .string(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

/// One declared graph input: a name the layers read, its shape without the
/// batch dimension (-1 marks a variable dimension, e.g. a sequence length)
/// and its dtype ("float32", or "int64"/"int32" for token ids, which the
/// engine still carries as Float values), as in an ONNX or KServe V2 signature.
/// model.json: `{"name": "src", "shape": [-1], "dtype": "int64"}`.
public struct InputSpec: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: String

    public static let dtypes: Set<String> = ["float32", "int32", "int64"]

    public init(name: String, shape: [Int], dtype: String = "float32") {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    enum CodingKeys: String, CodingKey { case name, shape, dtype }

    /// `dtype` defaults to float32.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        shape = try c.decode([Int].self, forKey: .shape)
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? "float32"
    }
}

/// `model.json`: the architecture as a graph of named layers.
///
/// Two forms. The single-input form, `"input_shape": [1, 28, 28]` with an
/// optional `"output": "fc"`, names its input "input" (float32). The
/// signature form declares several named inputs and outputs:
/// `"inputs": [{"name": "src", "shape": [-1], "dtype": "int64"},
/// {"name": "tgt", "shape": [-1], "dtype": "int64"}], "outputs": ["logits"]`.
/// A spec is written back in the single-input form whenever it fits it
/// (one float32 input named "input", one output), so existing files
/// round-trip unchanged.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var format: String = "dlserve-model/1"
    /// The graph's inputs (at least one), in declaration order.
    public var inputs: [InputSpec]
    public var layers: [LayerSpec]
    /// The nodes (layers or inputs) whose values are the model's outputs, first one first.
    public var outputs: [String]

    /// The first input's shape without the batch dimension, e.g. [1, 28, 28] (CHW).
    public var inputShape: [Int] {
        get { inputs[0].shape }
        set { inputs[0].shape = newValue }
    }

    /// The node whose value is the model's (first) output.
    public var output: String {
        get { outputs[0] }
        set { outputs[0] = newValue }
    }

    public init(inputShape: [Int], layers: [LayerSpec], output: String? = nil) {
        self.inputs = [InputSpec(name: "input", shape: inputShape)]
        self.layers = layers
        self.outputs = [output ?? layers.last?.name ?? "input"]
    }

    /// The signature form: several named inputs and outputs.
    public init(inputs: [InputSpec], layers: [LayerSpec], outputs: [String]) {
        precondition(!inputs.isEmpty && !outputs.isEmpty, "ModelSpec: needs at least one input and one output")
        self.inputs = inputs
        self.layers = layers
        self.outputs = outputs
    }

    /// Whether the spec fits the single-input form (and is written in it).
    public var isSingleInputForm: Bool {
        inputs.count == 1 && inputs[0].name == "input" && inputs[0].dtype == "float32" && outputs.count == 1
    }

    enum CodingKeys: String, CodingKey {
        case format, layers, output, inputs, outputs
        case inputShape = "input_shape"
    }

    /// `format` defaults to the current one and `output` to the last layer.
    /// Exactly one of `input_shape` and `inputs` must be present; `outputs`
    /// goes with `inputs` (default: the last layer).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? "dlserve-model/1"
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        let last = layers.last?.name ?? "input"
        if c.contains(.inputs) {
            guard !c.contains(.inputShape) else {
                throw DecodingError.dataCorruptedError(forKey: .inputShape, in: c,
                    debugDescription: "give either 'input_shape' or 'inputs', not both")
            }
            inputs = try c.decode([InputSpec].self, forKey: .inputs)
            guard !inputs.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .inputs, in: c, debugDescription: "needs at least one input")
            }
            if c.contains(.output) {
                guard !c.contains(.outputs) else {
                    throw DecodingError.dataCorruptedError(forKey: .output, in: c,
                        debugDescription: "give either 'output' or 'outputs', not both")
                }
                outputs = [try c.decode(String.self, forKey: .output)]
            } else {
                outputs = try c.decodeIfPresent([String].self, forKey: .outputs) ?? [last]
            }
            guard !outputs.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .outputs, in: c, debugDescription: "needs at least one output")
            }
        } else {
            inputs = [InputSpec(name: "input", shape: try c.decode([Int].self, forKey: .inputShape))]
            outputs = [try c.decodeIfPresent(String.self, forKey: .output) ?? last]
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        if isSingleInputForm {
            try c.encode(inputShape, forKey: .inputShape)
            try c.encode(output, forKey: .output)
        } else {
            try c.encode(inputs, forKey: .inputs)
            try c.encode(outputs, forKey: .outputs)
        }
        try c.encode(layers, forKey: .layers)
    }
}
