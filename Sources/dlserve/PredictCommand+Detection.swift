import ArgumentParser
import DLNN
import DLServing
import DLTrain
import DLVision
import Foundation

/// `dlserve predict` with a detection model: one JSON line per image with its
/// boxes in the image's pixels; `--output FILE.png` writes the image with the
/// boxes drawn (one input image).
struct DetectionPredictOptions: ParsableArguments {
    @Option(name: .long, help: "Detection models: drop boxes scoring below this.")
    var scoreThreshold: Double = 0.25

    @Option(name: .long, help: "Detection models: suppress same-class boxes overlapping more than this IoU.")
    var iouThreshold: Double = 0.45

    @Option(name: .long, help: "Detection models: keep at most this many boxes per image.")
    var maxDetections: Int = 100

    @Option(name: .long, help: ArgumentHelp("Detection models: write the image with its boxes drawn to this PNG file.", valueName: "file"))
    var output: String?

    func validate() throws {
        guard (0...1).contains(scoreThreshold) else { throw ValidationError("--score-threshold must be in [0, 1], got \(scoreThreshold)") }
        guard (0...1).contains(iouThreshold) else { throw ValidationError("--iou-threshold must be in [0, 1], got \(iouThreshold)") }
        guard (1...1000).contains(maxDetections) else { throw ValidationError("--max-detections must be in 1...1000, got \(maxDetections)") }
    }

    struct Line: Encodable {
        struct Found: Encodable { var label: String; var score: Double; var box: [Double] }
        var file: String
        var model: String
        var version: Int
        var width: Int
        var height: Int
        var detections: [Found]
    }

    func run(_ loaded: LoadedModel, files: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for line in try lines(loaded, files: files) { print(String(decoding: try encoder.encode(line), as: UTF8.self)) }
    }

    /// One line per image; writes `--output` when given.
    func lines(_ loaded: LoadedModel, files: [String]) throws -> [Line] {
        let grid: YOLOGrid
        do { grid = try FileModelStore.detectionGrid(loaded) } catch { throw ValidationError("\(error)") }
        let images = try files.flatMap { try ImageFiles.read(URL(fileURLWithPath: $0)) }
        if output != nil, images.count != 1 { throw ValidationError("--output draws one image; \(images.count) were given") }
        let filter = DetectionFilter(scoreThreshold: scoreThreshold, iouThreshold: iouThreshold, maxDetections: maxDetections)
        let found = Detector(grid: grid, model: loaded.model).detect(images.map(\.image), filter: filter)
        let labels = loaded.config.labels
        let lines = zip(images, found).map { item, detections in
            Line(file: item.name, model: loaded.name, version: loaded.version, width: item.image.width, height: item.image.height,
                            detections: detections.map { d in
                                Line.Found(label: labels.indices.contains(d.label) ? labels[d.label] : String(d.label),
                                           score: (d.score * 10_000).rounded() / 10_000,
                                           box: [d.box.x1, d.box.y1, d.box.x2, d.box.y2].map { ($0 * 100).rounded() / 100 })
                            })
        }
        if let output {
            let drawn = BoxPainter().draw(found[0], on: images[0].image, names: labels)
            do { try AtomicFile.write(try ImageEncoder.png(drawn), to: URL(fileURLWithPath: output)) } catch {
                throw ValidationError("cannot write \(output): \(error)")
            }
        }
        return lines
    }
}
