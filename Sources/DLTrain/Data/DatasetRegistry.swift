import DLNN
import Foundation

/// Which part of a named dataset: the training images (split further into
/// train/dev by the trainer) or the held-out test images.
public enum DatasetSplit: String, Codable, Sendable, CaseIterable {
    case train, test
}

/// "NAME" or "NAME:SPLIT", as the command line writes it ("fashion-mnist:test").
public struct DatasetReference: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var split: DatasetSplit

    public init(name: String, split: DatasetSplit) {
        self.name = name
        self.split = split
    }

    public init(parsing s: String, defaultSplit: DatasetSplit = .train) throws {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        guard let n = parts.first, !n.isEmpty else { throw TrainingError.dataset("empty dataset name in '\(s)'") }
        name = n
        if parts.count == 2 {
            guard let sp = DatasetSplit(rawValue: parts[1]) else {
                throw TrainingError.dataset("unknown split '\(parts[1])' in '\(s)' (expected train or test)")
            }
            split = sp
        } else {
            split = defaultSplit
        }
    }

    public var description: String { "\(name):\(split.rawValue)" }
}

/// Finds datasets by name: the built-in "fashion-mnist", and directories of
/// IDX files that an operator placed under `directoryRoot` (for training jobs).
///
/// A dataset directory `ROOT/NAME/` holds `train-images-idx3-ubyte[.gz]` and
/// `train-labels-idx1-ubyte[.gz]`, optionally `t10k-*` (or `test-*`) files of
/// the same form, and optionally `classes.txt` with one class name per line
/// (without it, classes are named "0", "1", ... up to the largest label).
public struct DatasetRegistry: Sendable {
    public var fashionMNISTRoot: URL
    public var directoryRoot: URL?
    /// Where the prepared text datasets live (`make data-sentiment` writes
    /// `data/sentiment-rt`): $DLSERVE_DATA, or ./data.
    public var textRoot: URL

    public init(fashionMNISTRoot: URL = FashionMNIST.defaultRoot, directoryRoot: URL? = nil,
                textRoot: URL = DatasetRegistry.defaultTextRoot) {
        self.fashionMNISTRoot = fashionMNISTRoot
        self.directoryRoot = directoryRoot
        self.textRoot = textRoot
    }

    public static var defaultTextRoot: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["DLSERVE_DATA"] ?? "data", isDirectory: true)
    }

    /// The directory of a text dataset of that name, if there is one
    /// (under the dataset directory first, then the text root).
    public func textDirectory(_ name: String) -> URL? {
        guard ModelRepository.isValidName(name) else { return nil }
        for root in [directoryRoot, textRoot].compactMap({ $0 }) {
            let dir = root.appendingPathComponent(name, isDirectory: true)
            if TextDataset.isTextDataset(dir) { return dir }
        }
        return nil
    }

    /// The dev split of a text dataset that ships one (`dev.tsv`), else nil.
    public func loadDev(_ name: String) throws -> Dataset? {
        guard let dir = textDirectory(name), FileManager.default.fileExists(atPath: TextDataset.file(dir, "dev").path) else { return nil }
        return try TextDataset.load(dir, split: "dev")
    }

    public static let builtIn = ["fashion-mnist"]

    /// Loads a split of a named dataset.
    public func load(_ ref: DatasetReference) throws -> Dataset {
        if ref.name == "fashion-mnist" {
            return try FashionMNIST.load(ref.split == .train ? .train : .test, root: fashionMNISTRoot)
        }
        if let dir = textDirectory(ref.name) { return try TextDataset.load(dir, split: ref.split.rawValue) }
        let dir = try directory(ref.name)
        let files = try idxFiles(in: dir, split: ref.split)
        let classes = try classNames(in: dir, labels: files.labels)
        return try IDXDataset.load(images: files.images, labels: files.labels, classes: classes)
    }

    /// What a dataset split holds, read from the file headers without loading
    /// the images (for validating a recipe when a job is submitted).
    public struct Info: Equatable, Sendable {
        /// [C, H, W].
        public var imageShape: [Int]
        public var classes: [String]
        public var count: Int
    }

    public func describe(_ ref: DatasetReference) throws -> Info {
        try validate(ref)
        if let dir = textDirectory(ref.name) {
            return Info(imageShape: [-1], classes: try TextDataset.classes(dir), count: try TextDataset.count(dir, split: ref.split.rawValue))
        }
        let files: (images: URL, labels: URL)
        let classes: [String]
        if ref.name == "fashion-mnist" {
            let p = ref.split == .train ? "train" : "t10k"
            files = (fashionMNISTRoot.appendingPathComponent("\(p)-images-idx3-ubyte.gz"),
                     fashionMNISTRoot.appendingPathComponent("\(p)-labels-idx1-ubyte.gz"))
            classes = FashionMNIST.classes
        } else {
            let dir = try directory(ref.name)
            files = try idxFiles(in: dir, split: ref.split)
            classes = try classNames(in: dir, labels: files.labels)
        }
        let dims = try IDXFile.readDims(files.images), labelDims = try IDXFile.readDims(files.labels)
        guard dims.count == 3 || dims.count == 4, labelDims.count == 1, labelDims[0] == dims[0] else {
            throw TrainingError.dataset("\(ref): images \(dims) and labels \(labelDims) do not form a dataset")
        }
        return Info(imageShape: dims.count == 3 ? [1, dims[1], dims[2]] : Array(dims.dropFirst()), classes: classes, count: dims[0])
    }

    /// Checks that a dataset exists without loading it (recipe validation).
    public func validate(_ ref: DatasetReference) throws {
        if ref.name == "fashion-mnist" {
            let f = fashionMNISTRoot.appendingPathComponent(ref.split == .train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz")
            guard FileManager.default.fileExists(atPath: f.path) else {
                throw TrainingError.dataset("fashion-mnist is not installed (\(f.path) is missing; apt-get install dataset-fashion-mnist)")
            }
            return
        }
        if let dir = textDirectory(ref.name) {
            guard FileManager.default.fileExists(atPath: TextDataset.file(dir, ref.split.rawValue).path) else {
                throw TrainingError.dataset("\(dir.path): no \(ref.split.rawValue).tsv")
            }
            return
        }
        _ = try idxFiles(in: try directory(ref.name), split: ref.split)
    }

    /// Class names of a dataset, without loading the images when they are known.
    public func classes(of name: String) throws -> [String] {
        if name == "fashion-mnist" { return FashionMNIST.classes }
        if let dir = textDirectory(name) { return try TextDataset.classes(dir) }
        let dir = try directory(name)
        return try classNames(in: dir, labels: try idxFiles(in: dir, split: .train).labels)
    }

    func directory(_ name: String) throws -> URL {
        guard let root = directoryRoot else {
            throw TrainingError.dataset("unknown dataset '\(name)' (known: \(DatasetRegistry.builtIn.joined(separator: ", ")); text datasets under \(textRoot.path): run make data-sentiment)")
        }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.hasPrefix("."), name.unicodeScalars.allSatisfy(allowed.contains) else {
            throw TrainingError.dataset("invalid dataset name '\(name)' (letters, digits, '.', '_', '-'; not starting with '.')")
        }
        let dir = root.appendingPathComponent(name, isDirectory: true)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw TrainingError.dataset("unknown dataset '\(name)' (no directory \(dir.path); built-in: \(DatasetRegistry.builtIn.joined(separator: ", ")))")
        }
        return dir
    }

    func idxFiles(in dir: URL, split: DatasetSplit) throws -> (images: URL, labels: URL) {
        let prefixes = split == .train ? ["train"] : ["t10k", "test"]
        func find(_ kind: String, _ idx: String) -> URL? {
            for p in prefixes {
                for ext in [".gz", ""] {
                    let u = dir.appendingPathComponent("\(p)-\(kind)-\(idx)-ubyte\(ext)")
                    if FileManager.default.fileExists(atPath: u.path) { return u }
                }
            }
            return nil
        }
        guard let images = find("images", "idx3") else {
            throw TrainingError.dataset("\(dir.path): no \(prefixes[0])-images-idx3-ubyte[.gz] for the \(split.rawValue) split")
        }
        guard let labels = find("labels", "idx1") else {
            throw TrainingError.dataset("\(dir.path): no \(prefixes[0])-labels-idx1-ubyte[.gz] for the \(split.rawValue) split")
        }
        return (images, labels)
    }

    func classNames(in dir: URL, labels: URL) throws -> [String] {
        let f = dir.appendingPathComponent("classes.txt")
        if let text = try? String(contentsOf: f, encoding: .utf8) {
            let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !names.isEmpty else { throw TrainingError.dataset("\(f.path) names no classes") }
            return names
        }
        let maxLabel = try IDXFile.read(labels).bytes.max().map(Int.init) ?? 0
        return (0...maxLabel).map(String.init)
    }
}
