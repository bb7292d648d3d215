import DLKernels
import DLNN
import DLServing
import DLTensor
import DLTrain
import DLVision
import Foundation

/// The shipped detector (`models/detect-fashion`, latest version) on the
/// first 200 test scenes (`make data-detection`), the whole pipeline as the
/// daemon runs it per request: letterbox, the model's `InferencePlan`, decode,
/// per-class NMS (score 0.25, IoU 0.45, at most 100). Batch 1 cycles through
/// the scenes; batch 16 takes 16 consecutive ones.
struct DetectionBench {
    static let modelName = "detect-fashion"
    static let batch = 16

    let detector: Detector
    let images: [Image]
    let filter = DetectionFilter(scoreThreshold: 0.25, iouThreshold: 0.45, maxDetections: 100)

    static func load(models: URL = URL(fileURLWithPath: "models"),
                     split: URL = URL(fileURLWithPath: "data/detect-fashion/test.json")) -> Result<DetectionBench, Error> {
        Result {
            let (loaded, _) = try ModelRepository(root: models).loadLatestValid(modelName)
            let grid = try FileModelStore.detectionGrid(loaded)
            let plan = InferencePlan(loaded.model)
            let scenes = try DetectionSplit.load(split, limit: 200).scenes
            return DetectionBench(detector: Detector(grid: grid) { plan.run($0) }, images: scenes.map(\.image))
        }
    }

    /// Milliseconds of each of `count` single-image detections (after 10 warm-up runs).
    func latencies(_ count: Int) -> [Double] {
        for i in 0..<10 { _ = detector.detect([images[i % images.count]], filter: filter) }
        return (0..<count).map { i in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = detector.detect([images[i % images.count]], filter: filter)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// Milliseconds of each of `count` batches of 16 (after 2 warm-up batches).
    func batchTimes(_ count: Int) -> [Double] {
        func chunk(_ j: Int) -> [Image] {
            let start = (j * Self.batch) % (images.count - Self.batch + 1)
            return Array(images[start..<(start + Self.batch)])
        }
        for j in 0..<2 { _ = detector.detect(chunk(j), filter: filter, batchSize: Self.batch) }
        return (0..<count).map { j in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = detector.detect(chunk(j), filter: filter, batchSize: Self.batch)
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// Detections of the batch-1 pipeline on every scene (JSON lines), for the peer's check.
    func detectionsJSON() -> String {
        let found = detector.detect(images, filter: filter)
        let rows = found.map { ds in ds.map { ["label": Double($0.label), "score": $0.score, "x1": $0.box.x1, "y1": $0.box.y1, "x2": $0.box.x2, "y2": $0.box.y2] } }
        return String(decoding: try! JSONSerialization.data(withJSONObject: rows), as: UTF8.self)
    }
}
