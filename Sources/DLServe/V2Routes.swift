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
                return V2ModelMetadata(try await self.backend.metadata(name, version: try RequestDecoding.version(context)))
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                let name = try RequestDecoding.name(context)
                let version = try RequestDecoding.version(context)
                guard try await self.backend.isModelReady(name, version: version) else {
                    throw ServeFailure.modelUnavailable(model: name, reason: "not ready")
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
                throw ServeFailure.badRequest("Inference-Header-Content-Length '\(raw)' does not fit a body of \(body.readableBytes) bytes")
            }
            jsonPart = body.getSlice(at: body.readerIndex, length: length)!
            binaryPart = body.getSlice(at: body.readerIndex + length, length: body.readableBytes - length)!
        } else if let mediaType = RequestDecoding.mediaType(request), mediaType != "application/json" {
            throw ServeFailure.unsupportedMediaType("V2 infer takes application/json (or the binary extension with Inference-Header-Content-Length)")
        }
        let v2 = try RequestDecoding.json(V2InferRequest.self, from: jsonPart)
        let inputs = try v2.tensors(binary: binaryPart)
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

struct V2ModelMetadata: ResponseEncodable {
    var name: String
    var versions: [String]
    var platform: String
    var inputs: [TensorMetadata]
    var outputs: [TensorMetadata]

    init(_ metadata: ModelMetadata) {
        name = metadata.name
        versions = metadata.versions
        platform = metadata.platform
        inputs = metadata.inputs
        outputs = metadata.outputs
    }
}

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
    var data: NestedNumbers?
}

struct V2RequestOutput: Decodable {
    var name: String
    var parameters: V2Parameters?
}

struct V2InferRequest: Decodable {
    var id: String?
    var parameters: V2Parameters?
    var inputs: [V2Input]
    var outputs: [V2RequestOutput]?

    /// Numeric datatypes dlserve converts to FP32 from JSON.
    static let jsonNumericTypes: Set<String> = [
        "FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    ]

    /// The inputs as tensors, checking that each shape matches its data.
    func tensors(binary: ByteBuffer) throws -> [NamedTensor] {
        guard !inputs.isEmpty else { throw ServeFailure.badRequest("'inputs' is empty") }
        var binary = binary
        var tensors: [NamedTensor] = []
        for input in inputs {
            guard input.shape.allSatisfy({ $0 >= 0 }) else {
                throw ServeFailure.badRequest("input '\(input.name)': shape \(input.shape) has a negative dimension")
            }
            let (count, overflow) = input.shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, count <= 1 << 28 else {
                throw ServeFailure.payloadTooLarge("input '\(input.name)': shape \(input.shape) is too large")
            }
            var data: [Float]
            if let size = input.parameters?.binaryDataSize {
                guard input.datatype == "FP32" else {
                    throw ServeFailure.badRequest("input '\(input.name)': binary data is supported for FP32 only, got \(input.datatype)")
                }
                guard size == count * 4 else {
                    throw ServeFailure.badRequest("input '\(input.name)': binary_data_size \(size) does not match shape \(input.shape) of FP32 (\(count * 4) bytes)")
                }
                guard let bytes = binary.readSlice(length: size) else {
                    throw ServeFailure.badRequest("input '\(input.name)': the body has fewer binary bytes than binary_data_size \(size)")
                }
                data = V2Encoding.floats(littleEndian: bytes)
            } else {
                guard Self.jsonNumericTypes.contains(input.datatype) else {
                    throw ServeFailure.badRequest("input '\(input.name)': datatype \(input.datatype) is not supported (use FP32)")
                }
                guard let numbers = input.data else {
                    throw ServeFailure.badRequest("input '\(input.name)': 'data' is missing")
                }
                data = numbers.data
            }
            guard data.count == count else {
                throw ServeFailure.badRequest("input '\(input.name)': shape \(input.shape) needs \(count) values, got \(data.count)")
            }
            tensors.append(NamedTensor(name: input.name, shape: input.shape, data: data))
        }
        if binary.readableBytes > 0 {
            throw ServeFailure.badRequest("\(binary.readableBytes) binary bytes after the last input are not claimed by any binary_data_size")
        }
        return tensors
    }
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
    static func floats(littleEndian bytes: ByteBuffer) -> [Float] {
        var bytes = bytes
        var out: [Float] = []
        out.reserveCapacity(bytes.readableBytes / 4)
        while let bits = bytes.readInteger(endianness: .little, as: UInt32.self) {
            out.append(Float(bitPattern: bits))
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
