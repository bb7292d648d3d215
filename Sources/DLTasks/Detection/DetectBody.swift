import DLServing
import DLVision
import Foundation

/// The bodies detect reads: what classify reads (raw PNG or JPEG, or JSON
/// with `image` base64 or `pixels`), with the decoding options as query
/// parameters (`?score_threshold=0.3&iou_threshold=0.5&max_detections=50&classes=Bag,Sneaker`)
/// or, in a JSON body, as fields of the same names (`classes` a list).
enum DetectBody {
    static func request(from body: TaskBody) throws -> ObjectDetection.Request {
        var options = try ObjectDetection.Options(query: body.query)
        let drawn = body.responseFormat == ObjectDetection.pngFormat
        switch try ClassifyBody.kind(body) {
        case .image(let mediaType):
            return .init(input: .encoded(Data(body.bytes), mediaType: mediaType), options: options, drawn: drawn)
        case .json:
            let json = try body.json(JSONBody.self)
            if let v = json.scoreThreshold { options.scoreThreshold = v }
            if let v = json.iouThreshold { options.iouThreshold = v }
            if let v = json.maxDetections { options.maxDetections = v }
            if let v = json.classes { options.classes = v }
            try options.check()
            let image = ClassifyBody.JSONBody(image: json.image, pixels: json.pixels, inputs: nil, topK: nil)
            return .init(input: try image.input(), options: options, drawn: drawn)
        }
    }

    struct JSONBody: Decodable {
        var image: String?
        var pixels: NestedNumbers?
        var scoreThreshold: Double?
        var iouThreshold: Double?
        var maxDetections: Int?
        var classes: [String]?

        enum CodingKeys: String, CodingKey {
            case image, pixels, classes
            case scoreThreshold = "score_threshold", iouThreshold = "iou_threshold", maxDetections = "max_detections"
        }
    }
}

extension ObjectDetection.Options {
    /// From query parameters; absent ones keep their defaults.
    init(query: [String: String]) throws {
        self.init()
        func number(_ key: String) throws -> Double? {
            guard let raw = query[key] else { return nil }
            guard let v = Double(raw), v.isFinite else { throw ServingError.badRequest("\(key) must be a number, got '\(raw)'") }
            return v
        }
        if let v = try number("score_threshold") { scoreThreshold = v }
        if let v = try number("iou_threshold") { iouThreshold = v }
        if let raw = query["max_detections"] {
            guard let v = Int(raw) else { throw ServingError.badRequest("max_detections must be an integer, got '\(raw)'") }
            maxDetections = v
        }
        if let raw = query["classes"] {
            classes = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        try check()
    }

    func check() throws {
        guard (0...1).contains(scoreThreshold) else { throw ServingError.badRequest("score_threshold must be in [0, 1], got \(scoreThreshold)") }
        guard (0...1).contains(iouThreshold) else { throw ServingError.badRequest("iou_threshold must be in [0, 1], got \(iouThreshold)") }
        guard (1...ObjectDetection.maxDetections).contains(maxDetections) else {
            throw ServingError.badRequest("max_detections must be in 1...\(ObjectDetection.maxDetections), got \(maxDetections)")
        }
        if let classes, classes.isEmpty || classes.contains(where: \.isEmpty) {
            throw ServingError.badRequest("classes must name at least one class, without empty names")
        }
    }
}
