import DLNN
import DLTensor
import DLVision

/// A YOLO-style detector at inference: letterbox each image to the head's
/// input, run the network (values / 255), decode, `filter` (threshold,
/// per-class NMS, cap) and map the boxes back to the image's own pixels.
/// Training (`DetectionTrainer`) and the command line share it; the daemon
/// does the same per request through its scheduler.
public struct Detector {
    public let grid: YOLOGrid
    let network: (Tensor) -> Tensor

    /// `network` maps [n, 3, H, W] to the head [n, A * (5 + C), H / stride, W / stride].
    public init(grid: YOLOGrid, network: @escaping (Tensor) -> Tensor) { (self.grid, self.network) = (grid, network) }

    /// A graph model in inference mode, without gradients.
    public init(grid: YOLOGrid, model: GraphModel) {
        self.init(grid: grid) { x in
            GradMode.withoutGrad { model(inputs: [model.spec.inputs[0].name: x], ForwardContext(training: false))[model.spec.output]! }
        }
    }

    /// Each image's detections in its own pixels (tiled when the grid says so);
    /// network inputs go through in batches of `batchSize`.
    public func detect(_ images: [Image], filter: DetectionFilter, batchSize: Int = 16) -> [[Detection]] {
        let plane = 3 * grid.inputWidth * grid.inputHeight
        var result: [[Detection]] = []
        var pending: [(image: Int, inputs: [DetectionInput])] = []
        func flush() {
            let all = pending.flatMap(\.inputs)
            guard !all.isEmpty else { return }
            var data = [Float](repeating: 0, count: all.count * plane)
            for (i, p) in all.enumerated() { for j in 0..<plane { data[i * plane + j] = p.chw[j] / 255 } }
            let head = network(Tensor(shape: [all.count, 3, grid.inputHeight, grid.inputWidth], data: data))
            let per = head.count / all.count
            var offset = 0
            head.data.withUnsafeBufferPointer { out in
                for item in pending {
                    let slice = UnsafeBufferPointer(rebasing: out[(offset * per)..<((offset + item.inputs.count) * per)])
                    result.append(grid.detections(slice, inputs: item.inputs, filter: filter))
                    offset += item.inputs.count
                }
            }
            pending = []
        }
        for (i, image) in images.enumerated() {
            pending.append((i, grid.inputs(for: image)))
            if pending.reduce(0, { $0 + $1.inputs.count }) >= batchSize { flush() }
        }
        flush()
        return result
    }

    /// Detections on `scenes` beside their ground truth, for mAP (a low score
    /// threshold, as mAP ranks everything the model finds).
    public func benchmark(_ scenes: [DetectionScene], filter: DetectionFilter = .init(scoreThreshold: 0.01, iouThreshold: 0.5),
                          batchSize: Int = 16) -> DetectionBenchmark {
        DetectionBenchmark(groundTruth: scenes.map(\.objects), detections: detect(scenes.map(\.image), filter: filter, batchSize: batchSize))
    }
}
