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

    public init(name: String, type: String, inputs: [String], attrs: [String: JSONValue] = [:]) {
        self.name = name
        self.type = type
        self.inputs = inputs
        self.attrs = attrs
    }

    enum CodingKeys: String, CodingKey { case name, type, inputs, attrs }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(String.self, forKey: .type)
        inputs = try c.decodeIfPresent([String].self, forKey: .inputs) ?? []
        attrs = try c.decodeIfPresent([String: JSONValue].self, forKey: .attrs) ?? [:]
    }

    // Typed attribute access with errors that name the node and attribute.
    public func int(_ key: String, default d: Int? = nil) throws -> Int {
        switch attrs[key] {
        case .number(let v)? where v == v.rounded(): return Int(v)
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be an integer")
    }

    public func float(_ key: String, default d: Float? = nil) throws -> Float {
        switch attrs[key] {
        case .number(let v)?: return Float(v)
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be a number")
    }

    public func string(_ key: String, default d: String? = nil) throws -> String {
        switch attrs[key] {
        case .string(let v)?: return v
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be a string")
    }

    public func bool(_ key: String, default d: Bool? = nil) throws -> Bool {
        switch attrs[key] {
        case .bool(let v)?: return v
        case nil: if let d { return d }
        default: break
        }
        throw ModelError.architecture("layer '\(name)' (\(type)): attribute '\(key)' must be true or false")
    }

    public func ints(_ key: String, default d: [Int]? = nil) throws -> [Int] {
        switch attrs[key] {
        case .array(let a)?:
            let v = a.compactMap { x -> Int? in if case .number(let n) = x, n == n.rounded() { return Int(n) }; return nil }
            if v.count == a.count { return v }
        case .number(let n)? where n == n.rounded(): return [Int(n)]
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

/// `model.json`: the architecture as a graph of named layers.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var format: String = "dlserve-model/1"
    /// Input shape without the batch dimension, e.g. [1, 28, 28] (CHW).
    public var inputShape: [Int]
    public var layers: [LayerSpec]
    /// The node whose value is the model's output.
    public var output: String

    public init(inputShape: [Int], layers: [LayerSpec], output: String? = nil) {
        self.inputShape = inputShape
        self.layers = layers
        self.output = output ?? layers.last?.name ?? "input"
    }

    enum CodingKeys: String, CodingKey {
        case format, layers, output
        case inputShape = "input_shape"
    }

    /// `format` defaults to the current one and `output` to the last layer.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? "dlserve-model/1"
        inputShape = try c.decode([Int].self, forKey: .inputShape)
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? layers.last?.name ?? "input"
    }
}
