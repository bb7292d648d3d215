import DLTensor
import DLVision
import Foundation

/// The classification task: image bytes, pixels or a tensor in, the top-k
/// labels with their probabilities out.
extension ServingEngine {
    /// Classifies one image with a classification model: the probabilities
    /// (softmax over the logits) of the `topK` most likely classes.
    ///
    /// Throws what `infer` throws, plus unsupportedTask, imageTooLarge,
    /// unsupportedMediaType and invalidInput for the image.
    public func classify(model: String, version: Int? = nil, input: ClassifyInput, topK: Int = 5,
                         deadline: ContinuousClock.Instant? = nil, requestID: String? = nil) async throws -> ClassificationResult {
        let start = ContinuousClock.now
        do {
            let instance = try manager.resolve(model, version: version)
            let config = instance.config
            guard config.task == ServingConfig.classification else {
                throw ServingError.unsupportedTask(model: model, task: config.task, operation: "classify")
            }
            guard topK >= 1 else { throw ServingError.invalidInput("top_k must be at least 1 (got \(topK))") }
            let x = try tensor(for: input, instance: instance)
            guard x.shape.count == instance.model.inputShape.count || x.shape.first == 1 else {
                throw ServingError.invalidInput("classify takes one example, got a batch of shape \(x.shape)")
            }
            let preprocessed = ContinuousClock.now
            let r = try await run(instance, input: x, deadline: deadline, requestID: requestID)
            let logits = r.output.data
            let labels = config.labels
            let predictions = Self.topK(Self.softmax(logits), k: topK).map { i, p in
                ClassScore(index: i, label: i < labels.count ? labels[i] : String(i), probability: p)
            }
            record(model, start: start, error: nil, requestID: requestID)
            return ClassificationResult(
                model: model, version: r.version, predictions: predictions, preprocessTime: preprocessed - start,
                queueTime: r.queueTime, computeTime: r.computeTime, batchSize: r.batchSize,
                totalTime: ContinuousClock.now - start, requestID: requestID)
        } catch {
            let e = Self.serving(error)
            record(model, start: start, error: e, requestID: requestID)
            throw e
        }
    }

    /// The model input for a classify request (decoding happens here, on the caller's task).
    func tensor(for input: ClassifyInput, instance: ServedVersion) throws -> Tensor {
        switch input {
        case .tensor(let t):
            return t
        case .encoded(let data, let mediaType):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            do {
                return p.tensor(from: try decoder.decode(data, mediaType: mediaType))
            } catch let e as ImageError {
                throw ServingError(e)
            }
        case .image(let image):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            return p.tensor(from: image)
        case .pixels(let values, let shape):
            guard let p = instance.config.preprocessing else {
                throw ServingError.invalidInput("model '\(instance.name)' takes no images")
            }
            do {
                return try p.tensor(fromPixels: values, shape: shape, maxPixels: options.maxImagePixels)
            } catch let e as ImageError {
                throw ServingError(e)
            }
        }
    }

    /// Numerically stable softmax: exp(x - max) / sum (classification and the tasks).
    public static func softmax(_ logits: [Float]) -> [Float] {
        guard let m = logits.max() else { return [] }
        let e = logits.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Indices and values of the k largest values, largest first (ties: lower index first).
    static func topK(_ p: [Float], k: Int) -> [(Int, Float)] {
        Array(p.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            .prefix(k).map { ($0.offset, $0.element) })
    }
}
