import DLNN
import DLTensor

extension ModelConfig.Preprocessing {
    /// Applies a model's preprocessing to dataset images already scaled to
    /// [0, 1] (v / 255), giving what serving computes from the same pixels:
    /// ((invert ? 255 - v : v) * scale - mean[c]) / std[c]. x: [N, C, H, W].
    public func apply(toUnitImages x: Tensor) -> Tensor {
        precondition(x.rank == 4, "Preprocessing.apply: expects [N, C, H, W], got \(x.shape)")
        let c = x.shape[1], plane = x.shape[2] * x.shape[3]
        var out = x.data
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<(x.shape[0] * c) {
                let ch = i % c
                let m = mean[mean.count == 1 ? 0 : ch], s = std[std.count == 1 ? 0 : ch]
                for k in (i * plane)..<((i + 1) * plane) {
                    let v = (invert ? 1 - p[k] : p[k]) * 255
                    p[k] = (v * scale - m) / s
                }
            }
        }
        return Tensor(shape: x.shape, data: out)
    }
}

extension Evaluator {
    /// Evaluates a published model version on a dataset, preprocessing the
    /// images as its config.json says (as serving does).
    public static func evaluate(_ loaded: LoadedModel, on dataset: Dataset, batchSize: Int = 500) throws -> Evaluation {
        guard dataset.imageShape == loaded.config.input.shape else {
            throw TrainingError.dataset("the images are \(dataset.imageShape), model '\(loaded.name)' takes \(loaded.config.input.shape)")
        }
        guard dataset.classes.count == loaded.config.labels.count else {
            throw TrainingError.dataset("the dataset has \(dataset.classes.count) classes, model '\(loaded.name)' has \(loaded.config.labels.count) labels")
        }
        let prepared = try Dataset(images: loaded.config.input.preprocessing.apply(toUnitImages: dataset.images),
                                   labels: dataset.labels, classes: loaded.config.labels)
        return evaluate(loaded.model, on: prepared, normalization: nil, batchSize: batchSize)
    }
}
