import ArgumentParser
import DLNN
import DLServing
import DLTrain
import DLVision
import Foundation

/// `dlserve eval` of a detection model on a detection split (DATA/NAME/SPLIT.json
/// as `make data-detection` writes it, or `--data FILE`): VOC mAP@0.5
/// (all-point), COCO mAP@[.5:.95], AP50 and AP75, per-class AP@0.5, and box
/// precision and recall at IoU 0.4 of the detections scoring >= 0.25.
enum DetectionEval {
    struct Output: Encodable {
        var model: String
        var version: Int
        var dataset: String
        var images: Int
        var objects: Int
        var map50: Double
        var cocoMAP: Double
        var cocoAP50: Double
        var cocoAP75: Double
        var perClassAP50: [String: Double]
        var precision40: Double
        var recall40: Double
        var imagesPerSecond: Double
        var seconds: Double
        enum CodingKeys: String, CodingKey {
            case model, version, dataset, images, objects, map50, seconds
            case cocoMAP = "coco_map", cocoAP50 = "coco_ap50", cocoAP75 = "coco_ap75", perClassAP50 = "per_class_ap50"
            case imagesPerSecond = "images_per_second", precision40 = "precision_iou40", recall40 = "recall_iou40"
        }
    }

    static func run(_ loaded: LoadedModel, dataset: DatasetReference, file: String?, limit: Int?, dataRoot: URL) throws {
        print(try jsonString(measure(loaded, dataset: dataset, file: file, limit: limit, dataRoot: dataRoot)))
    }

    static func measure(_ loaded: LoadedModel, dataset: DatasetReference, file: String?, limit: Int?, dataRoot: URL) throws -> Output {
        let url = file.map { URL(fileURLWithPath: $0) }
            ?? dataRoot.appendingPathComponent(dataset.name, isDirectory: true).appendingPathComponent("\(dataset.split.rawValue).json")
        let grid: YOLOGrid
        let split: DetectionSplit
        do {
            grid = try FileModelStore.detectionGrid(loaded)
            split = try DetectionSplit.load(url, limit: limit)
        } catch { throw ValidationError("\(error)") }
        guard split.classes == loaded.config.labels else {
            throw ValidationError("\(url.path): classes \(split.classes) differ from the model's labels \(loaded.config.labels)")
        }
        let start = Date()
        let bench = Detector(grid: grid, model: loaded.model).benchmark(split.scenes)
        let seconds = Date().timeIntervalSince(start)
        let voc = bench.vocMeanAveragePrecision(), coco = bench.coco()
        let point = bench.operatingPoint(iouThreshold: DetectionRecipe.DetectionScores.operatingIoU,
                                         scoreThreshold: DetectionRecipe.DetectionScores.operatingScore)
        return Output(
            model: loaded.name, version: loaded.version, dataset: file ?? dataset.description, images: split.scenes.count,
            objects: split.scenes.reduce(0) { $0 + $1.objects.count }, map50: voc.mean, cocoMAP: coco.map, cocoAP50: coco.ap50,
            cocoAP75: coco.ap75, perClassAP50: Dictionary(uniqueKeysWithValues: voc.perClass.map { (split.classes[$0.key], $0.value) }),
            precision40: point.precision, recall40: point.recall,
            imagesPerSecond: Double(split.scenes.count) / max(seconds, 1e-9), seconds: seconds)
    }
}
