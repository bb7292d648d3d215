import DLTensor
import DLText

/// A labelled dataset in memory: images [N, C, H, W] as floats in [0, 1], or
/// for text, token ids [N, T] padded with 0 at the end (`vocabulary` set);
/// one class index per example.
public struct Dataset: @unchecked Sendable {
    /// [N, C, H, W], values in [0, 1] (not normalized; see `Normalization`),
    /// or token ids [N, T] for text.
    public let images: Tensor
    public let labels: [Int]
    /// Class names, index = label.
    public let classes: [String]
    /// The vocabulary of a text dataset (built from its training split).
    public var vocabulary: Vocabulary?

    public init(images: Tensor, labels: [Int], classes: [String], vocabulary: Vocabulary? = nil) throws {
        self.vocabulary = vocabulary
        if vocabulary != nil {
            guard images.rank == 2 else { throw TrainingError.dataset("token ids must be [N, T], got \(images.shape)") }
        } else {
            guard images.rank == 4 else { throw TrainingError.dataset("images must be [N, C, H, W], got \(images.shape)") }
        }
        guard images.shape[0] == labels.count else {
            throw TrainingError.dataset("\(images.shape[0]) images but \(labels.count) labels")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes.count }) {
            throw TrainingError.dataset("label \(bad) is outside the \(classes.count) classes")
        }
        self.images = images
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }
    /// [C, H, W].
    public var imageShape: [Int] { Array(images.shape.dropFirst()) }
    var imageSize: Int { imageShape.product }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        try! Dataset(images: gather(indices), labels: indices.map { labels[$0] }, classes: classes, vocabulary: vocabulary)
    }

    /// The first `n` images (or all).
    public func prefix(_ n: Int) -> Dataset { n >= count ? self : subset(Array(0..<n)) }

    /// Raw pixel values of `indices`, [indices.count, C, H, W] row-major.
    public func gather(_ indices: [Int]) -> Tensor {
        let size = imageSize
        var out = [Float](repeating: 0, count: indices.count * size)
        images.data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (j, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "Dataset.gather: index \(i) outside 0..<\(count)")
                    (dst.baseAddress! + j * size).update(from: src.baseAddress! + i * size, count: size)
                }
            }
        }
        return Tensor(shape: [indices.count] + imageShape, data: out)
    }

    /// A seeded split into train and dev: `devFraction` of the images (rounded
    /// down, at least 1 when the fraction is > 0), drawn by a seeded
    /// permutation, go to dev; both keep the original order otherwise.
    public func split(devFraction: Double, seed: UInt64) -> (train: Dataset, dev: Dataset?) {
        precondition((0..<1).contains(devFraction), "Dataset.split: devFraction \(devFraction) outside [0, 1)")
        guard devFraction > 0 else { return (self, nil) }
        let nDev = max(1, Int(Double(count) * devFraction))
        var rng = SeededGenerator(seed: seed ^ 0x5eed_5911)
        let perm = Array(0..<count).shuffledSeeded(&rng)
        let devSet = Set(perm.prefix(nDev))
        let train = (0..<count).filter { !devSet.contains($0) }
        let dev = (0..<count).filter { devSet.contains($0) }
        return (subset(train), subset(dev))
    }

    /// Token ids [N, T] cut to the longest real sequence among them (padding
    /// is id 0 at the end of each row); other tensors unchanged.
    public static func trimPadding(_ x: Tensor) -> Tensor {
        guard x.rank == 2, x.shape[1] > 0 else { return x }
        let (n, t) = (x.shape[0], x.shape[1])
        var longest = 1
        for r in 0..<n {
            var l = t
            while l > 0 && x.data[r * t + l - 1] == 0 { l -= 1 }
            longest = max(longest, l)
        }
        guard longest < t else { return x }
        var out = [Float](repeating: 0, count: n * longest)
        for r in 0..<n { for j in 0..<longest { out[r * longest + j] = x.data[r * t + j] } }
        return Tensor(shape: [n, longest], data: out)
    }

    /// Number of images of each class.
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classes.count)
        for l in labels { c[l] += 1 }
        return c
    }
}

extension Array {
    /// Fisher-Yates with a seeded generator; identical on every platform
    /// (unlike `shuffled(using:)`, whose algorithm is not specified).
    public func shuffledSeeded(_ rng: inout SeededGenerator) -> [Element] {
        var a = self
        var i = a.count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}
