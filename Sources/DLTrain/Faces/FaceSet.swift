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
        var out = [Float](repeating: 0, count: indices.count * plane)
        pixels.withUnsafeBufferPointer { src in
            for (k, i) in indices.enumerated() {
                for j in 0..<plane { out[k * plane + j] = src[i * plane + j] }
            }
        }
        return Tensor(shape: [indices.count] + shape, data: out)
    }

    /// Indices of each identity's photos.
    public var photosByIdentity: [[Int]] {
        var out = [[Int]](repeating: [], count: names.count)
        for (i, l) in labels.enumerated() { out[l].append(i) }
        return out
    }

    /// The photo index of (person, number), for reading pairs files.
    public func index(of person: String, number: Int) -> Int? {
        lookup[Key(person: person, number: number)]
    }

    struct Key: Hashable { var person: String; var number: Int }
    var lookup: [Key: Int] {
        Dictionary(labels.indices.map { (Key(person: names[labels[$0]], number: numbers[$0]), $0) }, uniquingKeysWith: { a, _ in a })
    }
}
