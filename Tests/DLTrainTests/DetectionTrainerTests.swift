import DLKernels
import DLNN
import DLTensor
import DLTrain
import DLVision
import XCTest

/// A tiny detector learns a handful of images by heart: every box found at
/// IoU > 0.7 with the right class, VOC mAP@0.5 of 1. The ignore rule on
/// predictions is off here (ignoreIoU 1): with it, a neighbour cell whose box
/// overlaps an object gets no objectness gradient and can outscore the
/// responsible cell with a looser box (IoU 0.54 on one of these objects);
/// IgnoreRuleTests checks the rule itself.
final class DetectionTrainerTests: XCTestCase {
    /// 32 x 32 images: noisy dark background, red squares (class 0) and tall green bars (class 1).
    func scenes() -> [DetectionScene] {
        var rng = SeededGenerator(seed: 5)
        let layouts: [[(x: Int, y: Int, w: Int, h: Int, label: Int)]] = [
            [(3, 4, 8, 8, 0), (20, 10, 6, 14, 1)],
            [(14, 14, 10, 10, 0)],
            [(2, 16, 6, 13, 1), (18, 2, 9, 9, 0)],
            [(10, 3, 7, 12, 1)],
        ]
        return layouts.map { objects in
            var px = (0..<(32 * 32 * 3)).map { _ in UInt8(20 + rng.uniform() * 40) }
            for o in objects {
                for y in o.y..<(o.y + o.h) {
                    for x in o.x..<(o.x + o.w) {
                        px[(y * 32 + x) * 3 + 0] = o.label == 0 ? 230 : 30
                        px[(y * 32 + x) * 3 + 1] = o.label == 0 ? 40 : 220
                    }
                }
            }
            return DetectionScene(image: Image(width: 32, height: 32, channels: 3, pixels: px),
                                  objects: objects.map { Detection(box: Box(x1: Double($0.x), y1: Double($0.y), x2: Double($0.x + $0.w),
                                                                                y2: Double($0.y + $0.h)), label: $0.label) })
        }
    }

    func model(channels: Int) throws -> GraphModel {
        var layers: [LayerSpec] = []
        var last = "image"
        func add(_ name: String, _ type: String, _ attrs: [String: JSONValue] = [:]) {
            layers.append(LayerSpec(name: name, type: type, inputs: [last], attrs: attrs)); last = name
        }
        for (i, c) in [16, 32, 32].enumerated() {
            add("conv\(i)", "conv2d", ["out_channels": .number(Double(c)), "kernel_size": 3, "padding": 1])
            add("act\(i)", "leaky_relu", ["slope": 0.1])
            if i < 2 { add("pool\(i)", "max_pool2d", ["kernel_size": 2]) }
        }
        add("head", "conv2d", ["out_channels": .number(Double(channels)), "kernel_size": 1])
        return try GraphModel(spec: ModelSpec(inputs: [InputSpec(name: "image", shape: [3, 32, 32])], layers: layers, outputs: ["head"]),
                              seed: 11)
    }

    func testATinyDetectorOverfitsAHandfulOfImages() throws {
        let grid = YOLOGrid(inputWidth: 32, inputHeight: 32, stride: 4,
                            anchors: [.init(width: 8, height: 8), .init(width: 7, height: 13)], classes: 2)
        let data = scenes()
        let trainer = DetectionTrainer(model: try model(channels: grid.channels), grid: grid, train: data,
                                       options: .init(epochs: 250, batchSize: 4, learningRate: 3e-3, warmupSteps: 10,
                                                      augmentation: .none, ignoreIoU: 1))
        let history = try trainer.fit()
        XCTAssertLessThan(history.last!.loss, history.first!.loss / 10, "\(history.first!) -> \(history.last!)")
        let found = trainer.detect(data.map(\.image), filter: DetectionFilter(scoreThreshold: 0.5, iouThreshold: 0.5))
        for (scene, detections) in zip(data, found) {
            XCTAssertEqual(detections.count, scene.objects.count, "\(detections)")
            for o in scene.objects {
                let best = detections.filter { $0.label == o.label }.map { $0.box.iou(o.box) }.max() ?? 0
                XCTAssertGreaterThan(best, 0.7, "\(o) in \(detections)")
            }
        }
        XCTAssertEqual(trainer.benchmark(data).vocMeanAveragePrecision().mean, 1, accuracy: 1e-9)
    }
}
