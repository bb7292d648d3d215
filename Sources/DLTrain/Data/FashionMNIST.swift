import DLTensor
import Foundation

/// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28x28 grey images of 10
/// clothing classes, 60,000 for training and 10,000 for testing, as gzip IDX
/// files (Debian package dataset-fashion-mnist).
public enum FashionMNIST {
    public static let defaultRoot = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    public static let classes = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    public enum Split: String, Sendable, CaseIterable {
        case train, test
        var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads one split from `root` (train: 60,000 images; test: 10,000).
    public static func load(_ split: Split, root: URL = defaultRoot) throws -> Dataset {
        try IDXDataset.load(
            images: root.appendingPathComponent("\(split.filePrefix)-images-idx3-ubyte.gz"),
            labels: root.appendingPathComponent("\(split.filePrefix)-labels-idx1-ubyte.gz"),
            classes: classes)
    }
}

/// Image/label IDX pairs as a `Dataset`.
public enum IDXDataset {
    /// Reads an images file ([N, H, W] or [N, C, H, W] unsigned bytes, scaled
    /// to [0, 1]) and a labels file ([N]); checks that they agree and that every
    /// label names a class.
    public static func load(images: URL, labels: URL, classes: [String]) throws -> Dataset {
        let img = try IDXFile.read(images)
        let lab = try IDXFile.read(labels)
        guard img.dims.count == 3 || img.dims.count == 4 else {
            throw TrainingError.dataset("\(images.path): images must have 3 or 4 dimensions, got \(img.dims)")
        }
        guard lab.dims.count == 1 else {
            throw TrainingError.dataset("\(labels.path): labels must have 1 dimension, got \(lab.dims)")
        }
        guard img.dims[0] == lab.dims[0] else {
            throw TrainingError.dataset("\(images.lastPathComponent) has \(img.dims[0]) images but \(labels.lastPathComponent) has \(lab.dims[0]) labels")
        }
        let shape = img.dims.count == 3 ? [img.dims[0], 1, img.dims[1], img.dims[2]] : img.dims
        let scale: Float = 1 / 255
        let pixels = img.bytes.map { Float($0) * scale }
        let ys = lab.bytes.map(Int.init)
        if let bad = ys.firstIndex(where: { $0 >= classes.count }) {
            throw TrainingError.dataset("\(labels.path): label \(ys[bad]) at index \(bad) is not one of \(classes.count) classes")
        }
        return try Dataset(images: Tensor(shape: shape, data: pixels), labels: ys, classes: classes)
    }
}
