import DLServing
import Foundation

/// Image classification: `POST /v1/models/{name}[/versions/{v}]/classify`
/// with a PNG/JPEG body or JSON (`ClassifyBody`), answered with the `top_k`
/// most probable labels (softmax over the model's logits) and the timings.
public struct Classification: ServingTask {
    public static let route = "classify"
    public static let modelTask = "classification"
    public static let defaultTopK = 5
    public static let maxTopK = 1000

    public init() {}

    public struct Request: Sendable {
        public var input: ImageInput
        public var topK: Int

        public init(input: ImageInput, topK: Int = Classification.defaultTopK) {
            self.input = input
            self.topK = topK
        }
    }

    public struct Prediction: Codable, Sendable, Equatable {
        public var label: String
        public var index: Int
        public var probability: Float

        public init(label: String, index: Int, probability: Float) {
            self.label = label
            self.index = index
            self.probability = probability
        }
    }

    public struct Timing: Codable, Sendable, Equatable {
        public var queueMs: Double
        public var inferenceMs: Double
        public var totalMs: Double

        public init(queueMs: Double, inferenceMs: Double, totalMs: Double) {
            self.queueMs = queueMs
            self.inferenceMs = inferenceMs
            self.totalMs = totalMs
        }

        enum CodingKeys: String, CodingKey {
            case queueMs = "queue_ms"
            case inferenceMs = "inference_ms"
            case totalMs = "total_ms"
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        /// Most probable first, at most top_k entries.
        public var predictions: [Prediction]
        public var batchSize: Int
        public var timing: Timing
        public var requestID: String?

        public init(model: String, version: Int, predictions: [Prediction], batchSize: Int, timing: Timing, requestID: String?) {
            self.model = model
            self.version = version
            self.predictions = predictions
            self.batchSize = batchSize
            self.timing = timing
            self.requestID = requestID
        }

        enum CodingKeys: String, CodingKey {
            case model, version, predictions, timing
            case batchSize = "batch_size"
            case requestID = "request_id"
        }
    }

    public static func decode(_ body: TaskBody) throws -> Request {
        try ClassifyBody.request(from: body)
    }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let start = ContinuousClock.now
        guard (1...Self.maxTopK).contains(request.topK) else {
            throw ServingError.badRequest("top_k must be between 1 and \(Self.maxTopK), got \(request.topK)")
        }
        let x = try model.tensor(for: request.input)
        guard x.shape.count == model.inputShape.count || x.shape.first == 1 else {
            throw ServingError.invalidInput("classify takes one example, got a batch of shape \(x.shape)")
        }
        let r = try await model.infer(x)
        let labels = model.config.labels
        let predictions = Probabilities.topK(Probabilities.softmax(r.output.data), k: request.topK).map { i, p in
            Prediction(label: i < labels.count ? labels[i] : String(i), index: i, probability: p)
        }
        return Response(
            model: model.name, version: r.version, predictions: predictions, batchSize: r.batchSize,
            timing: Timing(queueMs: r.queueTime.milliseconds, inferenceMs: r.computeTime.milliseconds,
                           totalMs: (ContinuousClock.now - start).milliseconds),
            requestID: model.requestID)
    }
}

extension Duration {
    var milliseconds: Double { (Double(components.seconds) + Double(components.attoseconds) * 1e-18) * 1000 }
}

extension Classification.Response: JSONWritable {
    public func writeJSON(to json: inout JSONWriter) {
        json.beginObject()
        json.key("model"); json.string(model)
        json.key("version"); json.int(version)
        json.key("predictions")
        json.beginArray()
        for p in predictions {
            json.beginObject()
            json.key("label"); json.string(p.label)
            json.key("index"); json.int(p.index)
            json.key("probability"); json.float(p.probability)
            json.endObject()
        }
        json.endArray()
        json.key("batch_size"); json.int(batchSize)
        json.key("timing")
        json.beginObject()
        json.key("queue_ms"); json.double(timing.queueMs)
        json.key("inference_ms"); json.double(timing.inferenceMs)
        json.key("total_ms"); json.double(timing.totalMs)
        json.endObject()
        json.field("request_id", requestID)
        json.endObject()
    }
}
