import DLServing
import DLTensor
import DLVision
import Foundation

/// Object detection: `POST /v1/models/{name}[/versions/{v}]/detect` with a
/// PNG/JPEG body or JSON (`DetectBody`). The image is letterboxed to the
/// model's input, the head decoded (`YOLOGrid` of the version's
/// detection.json), filtered (score threshold, per-class NMS, cap, classes)
/// and the boxes mapped back to the image's own pixels.
public struct ObjectDetection: ServingTask {
    public static let route = "detect"
    public static let modelTask = "detection"
    public static let maxDetections = 1000

    public init() {}

    public struct Options: Sendable, Equatable {
        public var scoreThreshold = 0.25
        public var iouThreshold = 0.45
        public var maxDetections = 100
        /// Class names to keep (nil: all).
        public var classes: [String]?
        public init() {}
    }

    public struct Request: Sendable {
        public var input: ImageInput
        public var options: Options
        /// The answer is the image with the boxes drawn (`?format=png`, `Accept: image/png`).
        public var drawn: Bool
        public init(input: ImageInput, options: Options = Options(), drawn: Bool = false) {
            (self.input, self.options, self.drawn) = (input, options, drawn)
        }
    }

    public static let pngFormat = "png"

    public struct Found: Codable, Sendable, Equatable {
        public struct Corners: Codable, Sendable, Equatable {
            public var x1: Double, y1: Double, x2: Double, y2: Double
        }
        public var label: String
        public var index: Int
        public var score: Double
        public var box: Corners
    }

    public struct Size: Codable, Sendable, Equatable {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) { (self.width, self.height) = (width, height) }
    }

    public struct Response: Codable, Sendable, Equatable {
        public var model: String
        public var version: Int
        public var image: Size
        /// Best score first.
        public var detections: [Found]
        public var timing: Classification.Timing
        public var requestID: String?
        /// The image with the boxes drawn, when the request asked for it (not part of the JSON).
        public var drawing: Image? = nil

        enum CodingKeys: String, CodingKey { case model, version, image, detections, timing, requestID = "request_id" }
    }

    public static func decode(_ body: TaskBody) throws -> Request { try DetectBody.request(from: body) }

    public func handle(_ request: Request, _ model: ModelRunner) async throws -> Response {
        let start = ContinuousClock.now
        guard let grid = model.resources.detection else {
            throw ServingError.invalidInput("model '\(model.name)' version \(model.version) has no detection head (detection.json)")
        }
        let labels = model.config.labels
        var keep: Set<Int>?
        if let names = request.options.classes {
            let unknown = names.filter { !labels.contains($0) }
            guard unknown.isEmpty else {
                throw ServingError.badRequest("unknown classes \(unknown); the model knows \(labels)")
            }
            keep = Set(names.compactMap { labels.firstIndex(of: $0) })
        }
        let image = try model.image(for: request.input)
        // One input, or one per tile of a large image (batched together by the scheduler).
        let inputs = grid.inputs(for: image)
        let r = try await model.infer(Tensor(shape: [inputs.count, 3, grid.inputHeight, grid.inputWidth],
                                             data: inputs.flatMap { $0.chw.map { $0 / 255 } }))
        let filter = DetectionFilter(scoreThreshold: request.options.scoreThreshold, iouThreshold: request.options.iouThreshold,
                                     maxDetections: request.options.maxDetections, classes: keep)
        let found = r.output.data.withUnsafeBufferPointer { grid.detections($0, inputs: inputs, filter: filter) }
        let detections = found.map { d -> Found in
            let b = d.box
            func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
            return Found(label: d.label < labels.count ? labels[d.label] : String(d.label), index: d.label, score: (d.score * 10_000).rounded() / 10_000,
                         box: .init(x1: round2(b.x1), y1: round2(b.y1), x2: round2(b.x2), y2: round2(b.y2)))
        }
        return Response(model: model.name, version: r.version, image: Size(width: image.width, height: image.height),
                        detections: detections,
                        timing: Classification.Timing(queueMs: r.queueTime.milliseconds, inferenceMs: r.computeTime.milliseconds,
                                                      totalMs: (ContinuousClock.now - start).milliseconds),
                        requestID: model.requestID,
                        drawing: request.drawn ? BoxPainter().draw(found, on: image, names: labels) : nil)
    }
}

extension ObjectDetection.Response: AlternativeRepresentable {
    public static let alternativeFormats = [ObjectDetection.pngFormat: "image/png"]

    /// The sent image with every detection's box and label drawn, as PNG.
    public func rendered(as format: String) throws -> [UInt8] {
        guard format == ObjectDetection.pngFormat, let drawing else {
            throw ServingError.badRequest("format '\(format)' is not available for this answer")
        }
        do { return Array(try ImageEncoder.png(drawing)) } catch {
            throw ServingError.internal("PNG encoding failed: \(error)")
        }
    }
}
