import DLNN
import DLTensor

/// Metrics of a model on a labelled dataset (inference mode).
public struct Evaluation: Codable, Equatable, Sendable {
    public struct ClassAccuracy: Codable, Equatable, Sendable {
        public var label: String
        public var accuracy: Float
        public var count: Int
    }

    public var count: Int
    /// Mean softmax cross-entropy.
    public var loss: Float
    public var accuracy: Float
    /// One entry per class, in class-index order.
    public var perClass: [ClassAccuracy]
    /// confusion[true][predicted] counts.
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case count, loss, accuracy, confusion
        case perClass = "per_class"
    }
}

/// Runs a classifier over a dataset in batches without recording gradients.
public enum Evaluator {
    /// Logits for `dataset[range]`, normalized as in training.
    static func logits(_ model: GraphModel, _ x: Tensor, normalization: Normalization?) -> Tensor {
        model.infer(normalization.map { $0(x) } ?? x)
    }

    public static func evaluate(
        _ model: GraphModel, on dataset: Dataset, normalization: Normalization?, batchSize: Int = 500
    ) -> Evaluation {
        let k = dataset.classes.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var lossSum: Double = 0
        var start = 0
        while start < dataset.count {
            let n = min(batchSize, dataset.count - start)
            let idx = Array(start..<(start + n))
            let labels = idx.map { dataset.labels[$0] }
            let out = logits(model, Dataset.trimPadding(dataset.gather(idx)), normalization: normalization)
            precondition(out.shape == [n, k], "Evaluator: model output \(out.shape) for \(k) classes")
            lossSum += Double(GradMode.withoutGrad { softmaxCrossEntropy(logits: out, labels: labels).scalar }) * Double(n)
            for (y, p) in zip(labels, out.argmaxLastAxis()) { confusion[y][p] += 1 }
            start += n
        }
        let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
        let perClass = (0..<k).map { c -> Evaluation.ClassAccuracy in
            let total = confusion[c].reduce(0, +)
            return .init(label: dataset.classes[c], accuracy: total == 0 ? 0 : Float(confusion[c][c]) / Float(total), count: total)
        }
        let count = max(dataset.count, 1)
        return Evaluation(count: dataset.count, loss: Float(lossSum / Double(count)),
                          accuracy: Float(correct) / Float(count), perClass: perClass, confusion: confusion)
    }
}
