import DLServing
import Foundation
import HTTPTypes
import Hummingbird

/// Open Inference Protocol (KServe V2) REST:
/// `GET /v2`, `GET /v2/models/{name}[/versions/{v}]`, `GET .../ready`,
/// `POST .../infer` (JSON tensors, and the binary tensor data extension:
/// `Inference-Header-Content-Length`). Health is in HealthRoutes.swift.
extension ServeAPI {
    static let inferenceHeaderLength = HTTPField.Name("Inference-Header-Content-Length")!

    func addV2Routes(to router: Router<ServeRequestContext>) {
        router.get("/v2") { _, _ in
            V2ServerMetadata(name: self.settings.serverName, version: self.settings.serverVersion, extensions: ["binary_tensor_data"])
        }
        for prefix in ["/v2/models/:name", "/v2/models/:name/versions/:version"] {
            router.get(RouterPath(prefix)) { _, context in
                let name = try RequestDecoding.name(context)
                return try await self.backend.metadata(name, version: try RequestDecoding.version(context))
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                let name = try RequestDecoding.name(context)
                let version = try RequestDecoding.version(context)
                guard try await self.backend.isModelReady(name, version: version) else {
                    throw ServingError.modelNotReady(model: name, reason: "not ready")
                }
                return V2ModelReady(name: name, ready: true)
            }
            router.post(RouterPath(prefix + "/infer")) { request, context in
                try await self.v2Infer(request, context)
            }
        }
    }

    func v2Infer(_ request: Request, _ context: ServeRequestContext) async throws -> Response {
        let name = try RequestDecoding.name(context)
        context.modelLabel.value = name
        let version = try RequestDecoding.version(context)
        let body = try await RequestDecoding.body(request, limit: settings.maxBodyBytes)

        // The binary extension puts a JSON header first and raw tensors after it.
        var jsonPart = body
        var binaryPart = ByteBuffer()
        if let raw = request.headers[Self.inferenceHeaderLength] {
            guard let length = Int(raw), length >= 0, length <= body.readableBytes else {
                throw ServingError.badRequest("Inference-Header-Content-Length '\(raw)' does not fit a body of \(body.readableBytes) bytes")
            }
            jsonPart = body.getSlice(at: body.readerIndex, length: length)!
            binaryPart = body.getSlice(at: body.readerIndex + length, length: body.readableBytes - length)!
        } else if let mediaType = RequestDecoding.mediaType(request), mediaType != "application/json" {
            throw ServingError.unsupportedMediaType("V2 infer takes application/json (or the binary extension with Inference-Header-Content-Length)")
        }
        let (v2, inputs) = try V2InferRequest.parse(json: jsonPart, binary: binaryPart)
        let requestID = v2.id ?? context.requestID

        let result = try await withDeadline(context) {
            try await self.backend.infer(
                TensorInferRequest(model: name, version: version, inputs: inputs, outputs: (v2.outputs ?? []).map(\.name), requestID: requestID))
        }
        return try V2Encoding.response(for: v2, result: result, id: requestID)
    }
}

// MARK: - Wire types

struct V2ServerMetadata: ResponseEncodable {
    var name: String
    var version: String
    var extensions: [String]
}

struct V2ModelReady: ResponseEncodable {
    var name: String
    var ready: Bool
}

/// V2 model metadata, with the labels and preprocessing a client needs.
extension ModelMetadata: ResponseEncodable {}

/// `parameters` of a request, an input or an output: only the keys dlserve
/// reads; others are ignored.
struct V2Parameters: Codable {
    var binaryDataSize: Int?
    var binaryData: Bool?
    var binaryDataOutput: Bool?

    enum CodingKeys: String, CodingKey {
        case binaryDataSize = "binary_data_size"
        case binaryData = "binary_data"
        case binaryDataOutput = "binary_data_output"
    }
}

struct V2Input: Decodable {
    var name: String
    var shape: [Int]
    var datatype: String
    var parameters: V2Parameters?
    var data: V2Data?
}

/// An input's `data`: numbers (nested or flat) or, for BYTES, strings.
enum V2Data: Decodable {
    case numbers([Float])
    case strings([[UInt8]])

    init(from decoder: Decoder) throws {
        if let numbers = try? NestedNumbers(from: decoder) {
            self = .numbers(numbers.data)
            return
        }
        var out: [[UInt8]] = []
        try Self.strings(decoder, into: &out)
        self = .strings(out)
    }

    private static func strings(_ decoder: Decoder, into out: inout [[UInt8]]) throws {
        if let single = try? decoder.singleValueContainer(), let value = try? single.decode(String.self) {
            out.append(Array(value.utf8))
            return
        }
        var container = try decoder.unkeyedContainer()
        while !container.isAtEnd {
            if let value = try? container.decode(String.self) {
                out.append(Array(value.utf8))
            } else {
                try strings(try container.superDecoder(), into: &out)
            }
        }
    }
}

struct V2RequestOutput: Decodable {
    var name: String
    var parameters: V2Parameters?
}

package struct V2InferRequest: Decodable {
    var id: String?
    var parameters: V2Parameters?
    var inputs: [V2Input]
    var outputs: [V2RequestOutput]?

    /// Bytes per element of the binary extension's numeric datatypes.
    static let elementSizes: [String: Int] = [
        "FP32": 4, "FP64": 8, "INT8": 1, "INT16": 2, "INT32": 4, "INT64": 8, "UINT8": 1, "UINT16": 2, "UINT32": 4, "UINT64": 8,
    ]

    /// Reads an infer body: the JSON part and, with the binary extension, the raw tensors after it.
    package static func parse(json: ByteBuffer, binary: ByteBuffer) throws -> (V2InferRequest, [NamedTensor]) {
        let v2 = try RequestDecoding.json(V2InferRequest.self, from: json)
        return (v2, try v2.tensors(binary: binary))
    }

    /// The inputs as tensors, checking that each shape matches its data and
    /// that integer datatypes hold whole numbers in their range.
    func tensors(binary: ByteBuffer) throws -> [NamedTensor] {
        guard !inputs.isEmpty else { throw ServingError.badRequest("'inputs' is empty") }
        var binary = binary
        var tensors: [NamedTensor] = []
        for input in inputs {
            guard input.shape.allSatisfy({ $0 >= 0 }) else {
                throw ServingError.badRequest("input '\(input.name)': shape \(input.shape) has a negative dimension")
            }
            let (count, overflow) = input.shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= 1 << 28 else {
                throw ServingError.payloadTooLarge("input '\(input.name)': shape \(input.shape) is too large")
            }
            let isBytes = input.datatype == "BYTES"
            guard isBytes || Self.elementSizes[input.datatype] != nil else {
                throw ServingError.badRequest("input '\(input.name)': datatype \(input.datatype) is not supported (use FP32, INT32, INT64, UINT8 or BYTES)")
            }
            var tensor = NamedTensor(name: input.name, datatype: input.datatype, shape: input.shape)
            if let size = input.parameters?.binaryDataSize {
                guard let bytes = binary.readSlice(length: size) else {
                    throw ServingError.badRequest("input '\(input.name)': the body has fewer binary bytes than binary_data_size \(size)")
                }
                if isBytes {
                    tensor.bytes = try V2Encoding.strings(bytes, name: input.name)
                } else {
                    let width = Self.elementSizes[input.datatype]!
                    guard size == count * width else {
                        throw ServingError.badRequest("input '\(input.name)': binary_data_size \(size) does not match shape \(input.shape) of \(input.datatype) (\(count * width) bytes)")
                    }
                    tensor.data = V2Encoding.numbers(bytes, datatype: input.datatype)
                }
            } else {
                switch input.data {
                case nil:
                    throw ServingError.badRequest("input '\(input.name)': 'data' is missing")
                case .numbers(let values)?:
                    guard !isBytes else { throw ServingError.badRequest("input '\(input.name)': BYTES data must be strings") }
                    tensor.data = values
                case .strings(let strings)?:
                    guard isBytes else { throw ServingError.badRequest("input '\(input.name)': \(input.datatype) data must be numbers") }
                    tensor.bytes = strings
                }
            }
            let got = isBytes ? tensor.bytes?.count ?? 0 : tensor.data.count
            guard got == count else {
                throw ServingError.badRequest("input '\(input.name)': shape \(input.shape) needs \(count) values, got \(got)")
            }
            if let range = Self.integerRanges[input.datatype],
               let bad = tensor.data.first(where: { $0 != $0.rounded() || !range.contains(Double($0)) }) {
                throw ServingError.badRequest("input '\(input.name)': \(bad) is not a valid \(input.datatype) value")
            }
            tensors.append(tensor)
        }
        if binary.readableBytes > 0 {
            throw ServingError.badRequest("\(binary.readableBytes) binary bytes after the last input are not claimed by any binary_data_size")
        }
        return tensors
    }

    static let integerRanges: [String: ClosedRange<Double>] = [
        "INT8": -128...127, "INT16": -32768...32767, "INT32": -2147483648...2147483647,
        "INT64": -9.3e18...9.3e18, "UINT8": 0...255, "UINT16": 0...65535, "UINT32": 0...4294967295, "UINT64": 0...1.8e19,
    ]
}

struct V2ResponseOutput: Encodable {
    var name: String
    var shape: [Int]
    var datatype: String
    var parameters: V2Parameters?
    var data: [Float]?
}

struct V2InferResponse: Encodable {
    var modelName: String
    var modelVersion: String
    var id: String
    var outputs: [V2ResponseOutput]

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name"
        case modelVersion = "model_version"
        case id, outputs
    }
}

/// Writing V2 responses, in JSON or with the binary extension.
enum V2Encoding {
    /// Little-endian values of a numeric datatype, as Float.
    static func numbers(_ bytes: ByteBuffer, datatype: String) -> [Float] {
        var bytes = bytes
        var out: [Float] = []
        func read<I: FixedWidthInteger>(_ type: I.Type, _ convert: (I) -> Float) {
            while let v = bytes.readInteger(endianness: .little, as: I.self) { out.append(convert(v)) }
        }
        switch datatype {
        case "FP32": read(UInt32.self) { Float(bitPattern: $0) }
        case "FP64": read(UInt64.self) { Float(Double(bitPattern: $0)) }
        case "INT8": read(Int8.self) { Float($0) }
        case "INT16": read(Int16.self) { Float($0) }
        case "INT32": read(Int32.self) { Float($0) }
        case "INT64": read(Int64.self) { Float($0) }
        case "UINT8": read(UInt8.self) { Float($0) }
        case "UINT16": read(UInt16.self) { Float($0) }
        case "UINT32": read(UInt32.self) { Float($0) }
        default: read(UInt64.self) { Float($0) }
        }
        return out
    }

    /// BYTES in the binary extension, as Triton writes them: each element a
    /// 4-byte little-endian length followed by that many bytes.
    static func strings(_ bytes: ByteBuffer, name: String) throws -> [[UInt8]] {
        var bytes = bytes
        var out: [[UInt8]] = []
        while bytes.readableBytes > 0 {
            guard let length = bytes.readInteger(endianness: .little, as: UInt32.self),
                  let value = bytes.readBytes(length: Int(length)) else {
                throw ServingError.badRequest("input '\(name)': BYTES data ends inside an element (each is a 4-byte length, then the bytes)")
            }
            out.append(value)
        }
        return out
    }

    static func response(for request: V2InferRequest, result: TensorInferResult, id: String?) throws -> Response {
        let binaryAll = request.parameters?.binaryDataOutput ?? false
        let binaryNames = Set((request.outputs ?? []).filter { $0.parameters?.binaryData == true }.map(\.name))
        var binary = ByteBuffer()
        var outputs: [V2ResponseOutput] = []
        for tensor in result.outputs {
            if binaryAll || binaryNames.contains(tensor.name) {
                for value in tensor.data { binary.writeInteger(value.bitPattern, endianness: .little) }
                outputs.append(
                    V2ResponseOutput(
                        name: tensor.name, shape: tensor.shape, datatype: "FP32",
                        parameters: V2Parameters(binaryDataSize: tensor.data.count * 4), data: nil))
            } else {
                outputs.append(V2ResponseOutput(name: tensor.name, shape: tensor.shape, datatype: "FP32", data: tensor.data))
            }
        }
        let body = V2InferResponse(modelName: result.model, modelVersion: String(result.version), id: id ?? "", outputs: outputs)
        let json = try JSONEncoder().encode(body)
        if binary.readableBytes == 0 {
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        var buffer = ByteBuffer(bytes: json)
        buffer.writeBuffer(&binary)
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", ServeAPI.inferenceHeaderLength: String(json.count)],
            body: .init(byteBuffer: buffer))
    }
}
