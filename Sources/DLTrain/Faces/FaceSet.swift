import DLTensor
import DLVision
import Foundation

/// Face photos in the layout of LFW and of most face sets, one folder per
/// person (`DIR/Name/Name_0001.jpg`, any size, colour or grey, JPEG or PNG),
/// each photo decoded and preprocessed as the model will see it.
public struct FaceSet: Sendable {
    /// Identity names (the folder names), sorted.
    public var names: [String]
    /// Identity index of each photo.
    public var labels: [Int]
    /// Each photo's number: the NNNN of `Name_NNNN.ext`, or its 1-based place in the folder.
    public var numbers: [Int]
    /// The photos as the model's input, [count, C, H, W] contiguous.
    public var pixels: [Float]
    public let shape: [Int]

    public var count: Int { labels.count }
    public var plane: Int { shape.product }

    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Reads `dir`: each sub-folder is a person, each JPEG/PNG in it a photo.
    /// `identities` keeps only those names (in `names` order). Throws
    /// `TrainingError.dataset` naming the file for anything unreadable.
    public static func load(_ dir: URL, preprocessing: ImagePreprocessing, identities: Set<String>? = nil,
                            decoder: ImageDecoder = ImageDecoder()) throws -> FaceSet {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw TrainingError.dataset("\(dir.path): no such directory (one folder per person expected)")
        }
        let folders = try fm.contentsOfDirectory(atPath: dir.path).filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: dir.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
        }.sorted()
        var set = FaceSet(names: [], labels: [], numbers: [], pixels: [], shape: preprocessing.inputShape)
        for name in folders where identities?.contains(name) ?? true {
            let folder = dir.appendingPathComponent(name)
            let files = try fm.contentsOfDirectory(atPath: folder.path)
                .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            guard !files.isEmpty else { continue }
            let label = set.names.count
            set.names.append(name)
            for (place, file) in files.enumerated() {
                let url = folder.appendingPathComponent(file)
                let image: Image
                do { image = try decoder.decode(try Data(contentsOf: url)) } catch {
                    throw TrainingError.dataset("\(url.path): \(error)")
                }
                set.pixels += preprocessing.tensor(from: image).data
                set.labels.append(label)
                set.numbers.append(Self.number(of: file, person: name) ?? place + 1)
            }
        }
        guard !set.names.isEmpty else { throw TrainingError.dataset("\(dir.path): no person folder holds a JPEG or PNG photo") }
        return set
    }

    /// The NNNN of `Person_NNNN.ext`.
    static func number(of file: String, person: String) -> Int? {
        let stem = (file as NSString).deletingPathExtension
        guard stem.hasPrefix(person + "_") else { return nil }
        return Int(stem.dropFirst(person.count + 1))
    }

    /// Photos `indices` as a batch [n, C, H, W].
    public func batch(_ indices: [Int]) -> Tensor {
        Tensor(shape: [count] + shape, data: pixels).gatherBatch(indices)
    }

    /// The people named in `keep`, with their photos, in this set's order.
    public func subset(_ keep: Set<String>) -> FaceSet {
        var s = FaceSet(names: [], labels: [], numbers: [], pixels: [], shape: shape)
        for (p, photos) in photosByIdentity.enumerated() where keep.contains(names[p]) {
            let label = s.names.count
            s.names.append(names[p])
            for i in photos {
                s.labels.append(label)
                s.numbers.append(numbers[i])
                s.pixels += pixels[(i * plane)..<((i + 1) * plane)]
            }
        }
        return s
    }

    /// Indices of each identity's photos.
    public var photosByIdentity: [[Int]] {
        var out = [[Int]](repeating: [], count: names.count)
        for (i, l) in labels.enumerated() { out[l].append(i) }
        return out
    }

    struct Key: Hashable { var person: String; var number: Int }
    /// The photo index of each (person, number), for reading pairs files.
    var lookup: [Key: Int] {
        Dictionary(labels.indices.map { (Key(person: names[labels[$0]], number: numbers[$0]), $0) }, uniquingKeysWith: { a, _ in a })
    }
}
