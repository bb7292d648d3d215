import DLTensor
import Foundation

/// V2 inference by signature: named inputs of the declared datatypes in,
/// the declared outputs (or those asked for) out. Which inputs a version
/// declares follows from its files, not from its task: an image
/// preprocessing adds "image", a vocabulary adds "text" (`ModelSignature`).
extension ServingEngine {
    /// The outcome of `infer(model:version:inputs:outputs:)`.
    public struct SignatureResult: Sendable {
        public var model: String
        public var version: Int
        public var outputs: [NamedTensor]
    }

    /// Runs one batch given as exactly one of the version's declared inputs
    /// and returns the outputs named in `outputs` (all declared ones when
    /// empty), in the order asked. Throws what `infer` throws, plus
    /// badRequest for an unknown input or output name or a wrong datatype,
    /// and invalidInput for values the input cannot hold.
    public func infer(model: String, version: Int? = nil, inputs: [NamedTensor], outputs: [String] = [],
                      deadline: ContinuousClock.Instant? = nil, requestID: String? = nil) async throws -> SignatureResult {
        let start = ContinuousClock.now
        do {
            let instance = try manager.resolve(model, version: version)
            let signature = instance.loaded.signature
            let names = signature.inputs.map(\.name)
            guard inputs.count == 1, let input = inputs.first else {
                throw ServingError.badRequest("model '\(model)' takes one of its inputs (\(names.joined(separator: ", "))), got \(inputs.count)")
            }
            guard let declared = signature.inputs.first(where: { $0.name == input.name }) else {
                throw ServingError.badRequest("model '\(model)' has no input '\(input.name)' (its inputs: \(names.joined(separator: ", ")))")
            }
            let outputNames = signature.outputs.map(\.name)
            if let unknown = outputs.first(where: { !outputNames.contains($0) }) {
                throw ServingError.badRequest("model '\(model)' has no output '\(unknown)' (its outputs: \(outputNames.joined(separator: ", ")))")
            }
            let x = try modelInput(input, declared: declared, instance: instance)
            let r = try await run(instance, input: x, deadline: deadline, requestID: requestID)
            let width = r.output.shape.last ?? 1
            let result = (outputs.isEmpty ? outputNames : outputs).map { name -> NamedTensor in
                let data = name == ModelSignature.probabilitiesOutput
                    ? Probabilities.softmaxRows(r.output.data, width: width) : r.output.data
                return NamedTensor(name: name, shape: r.output.shape, data: data)
            }
            record(model, start: start, error: nil, requestID: requestID)
            return SignatureResult(model: model, version: r.version, outputs: result)
        } catch {
            let e = Self.serving(error)
            record(model, start: start, error: e, requestID: requestID)
            throw e
        }
    }

    /// The model's input tensor for a named V2 input.
    func modelInput(_ input: NamedTensor, declared: TensorMetadata, instance: ServedVersion) throws -> Tensor {
        let name = input.name
        switch declared.name {
        case ModelSignature.imageInput:
            guard input.datatype == "UINT8" else {
                throw ServingError.badRequest("input '\(name)' takes UINT8 pixels, got \(input.datatype)")
            }
            let rowShape = Array(input.shape.dropFirst())
            guard input.shape.count == declared.shape.count, let n = input.shape.first, n >= 1 else {
                throw ServingError.badRequest("input '\(name)': shape \(input.shape) should be \(declared.shape) (-1: any size)")
            }
            let rowCount = rowShape.reduce(1, *)
            var rows: [Tensor] = []
            for i in 0..<n {
                let pixels = Array(input.data[(i * rowCount)..<((i + 1) * rowCount)])
                let t = try tensor(for: .pixels(pixels, shape: rowShape), instance: instance)
                rows.append(t.shape.first == 1 && t.shape.count == instance.model.inputShape.count + 1
                            ? Tensor(shape: Array(t.shape.dropFirst()), data: t.data) : t)
            }
            let inner = rows[0].shape
            return Tensor(shape: [n] + inner, data: rows.flatMap(\.data))
        case ModelSignature.textInput:
            guard input.datatype == "BYTES", let strings = input.bytes else {
                throw ServingError.badRequest("input '\(name)' takes BYTES (UTF-8 texts), got \(input.datatype)")
            }
            guard input.shape.count == 1, !strings.isEmpty else {
                throw ServingError.badRequest("input '\(name)': shape \(input.shape) should be [N] with N >= 1")
            }
            var rows: [[Int]] = []
            for (i, bytes) in strings.enumerated() {
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw ServingError.invalidInput("\(name)[\(i)] is not valid UTF-8")
                }
                rows.append(try instance.loaded.resources.encode(text, field: "\(name)[\(i)]").ids)
            }
            let length = rows.map(\.count).max()!
            var data = [Float](repeating: 0, count: rows.count * length)
            for (i, ids) in rows.enumerated() {
                for (t, id) in ids.enumerated() { data[i * length + t] = Float(id) }
            }
            return Tensor(shape: [rows.count, length], data: data)
        default:
            guard NamedTensor.numericTypes.contains(input.datatype) else {
                throw ServingError.badRequest("input '\(name)': datatype \(input.datatype) is not supported (use \(declared.datatype))")
            }
            if declared.datatype != "FP32" {
                guard NamedTensor.integerTypes.contains(input.datatype) else {
                    throw ServingError.badRequest("input '\(name)' takes integer token ids (INT32 or INT64), got \(input.datatype)")
                }
            }
            return Tensor(shape: input.shape, data: input.data)
        }
    }
}
