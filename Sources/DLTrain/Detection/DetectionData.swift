import DLVision
import Foundation

/// A detection split on disk, as `make data-detection` writes it: a JSON file
///
///     {"classes": ["T-shirt/top", ...],
///      "images": [{"file": "train/00000.png", "width": 120, "height": 133,
///                  "objects": [{"label": 3, "box": [x1, y1, x2, y2]}]}]}
///
/// with image paths relative to the JSON file's directory and boxes in the
/// image's pixels. Every image is decoded (PNG or JPEG) and checked: its size
/// matches, labels are class indices, boxes have positive area inside the
/// image. Problems are `TrainingError.dataset` naming the file and the entry.
public struct DetectionSplit: Sendable {
    public var classes: [String]
    public var scenes: [DetectionScene]
    /// The image files, in the order of `scenes`.
    public var files: [String]

    struct File: Decodable {
        struct Entry: Decodable {
            struct Object: Decodable { var label: Int; var box: [Double] }
            var file: String
            var width: Int
            var height: Int
            var objects: [Object]
        }
        var classes: [String]
        var images: [Entry]
    }

    /// How many images the split lists (the JSON only; no image is decoded).
    public static func count(_ url: URL) throws -> Int {
        do { return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).images.count } catch {
            throw TrainingError.dataset("\(url.path): \(error is DecodingError ? "not a detection split (\(error))" : "\(error.localizedDescription)")")
        }
    }

    /// Reads `url`; `limit` keeps the first entries.
    public static func load(_ url: URL, limit: Int? = nil, decoder: ImageDecoder = ImageDecoder()) throws -> DetectionSplit {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError.dataset("\(url.path): no such file (make data-detection writes the Fashion-MNIST scenes)")
        }
        let parsed: File
        do { parsed = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)) } catch {
            throw TrainingError.dataset("\(url.path): \(error is DecodingError ? "not a detection split (\(error))" : "\(error.localizedDescription)")")
        }
        guard !parsed.classes.isEmpty else { throw TrainingError.dataset("\(url.path): no classes") }
        let base = url.deletingLastPathComponent()
        var scenes: [DetectionScene] = [], files: [String] = []
        for (i, e) in parsed.images.prefix(limit ?? Int.max).enumerated() {
            let where_ = "\(url.lastPathComponent) image \(i) (\(e.file))"
            let image: Image
            do { image = try decoder.decode(Data(contentsOf: base.appendingPathComponent(e.file))) } catch {
                throw TrainingError.dataset("\(where_): \(error)")
            }
            guard image.width == e.width, image.height == e.height else {
                throw TrainingError.dataset("\(where_): the file is \(image.width)x\(image.height), the entry says \(e.width)x\(e.height)")
            }
            var objects: [Detection] = []
            for (j, o) in e.objects.enumerated() {
                guard o.label >= 0, o.label < parsed.classes.count else {
                    throw TrainingError.dataset("\(where_) object \(j): label \(o.label) is not in 0..<\(parsed.classes.count)")
                }
                guard o.box.count == 4 else { throw TrainingError.dataset("\(where_) object \(j): box needs [x1, y1, x2, y2]") }
                let b = Box(x1: o.box[0], y1: o.box[1], x2: o.box[2], y2: o.box[3])
                guard b.x1 >= 0, b.y1 >= 0, b.x2 <= Double(e.width), b.y2 <= Double(e.height), b.area > 0 else {
                    throw TrainingError.dataset("\(where_) object \(j): box \(o.box) is empty or outside the \(e.width)x\(e.height) image")
                }
                objects.append(Detection(box: b, label: o.label))
            }
            scenes.append(DetectionScene(image: image, objects: objects))
            files.append(e.file)
        }
        guard !scenes.isEmpty else { throw TrainingError.dataset("\(url.path): no images") }
        return DetectionSplit(classes: parsed.classes, scenes: scenes, files: files)
    }
}
