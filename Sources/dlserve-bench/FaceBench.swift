import DLKernels
import DLNN
import DLServing
import DLTensor
import DLVision
import Foundation

/// The shipped face embedding (`models/face-embed`, latest version) on the
/// first 200 photos of data/faces/test (folders by name, then files by
/// name; `make data-faces`), decoded beforehand: per request the daemon's
/// preprocessing (grey, resize 25 -> 32, normalise) and the model's
/// `InferencePlan` over the test-time views its verification.json asks for
/// (`VerificationFile.views`: shifts and mirror images, viewCount times the
/// network's work). Batch 1 cycles through the photos; batch 32 takes 32
/// consecutive ones from (32 j) mod 169.
struct FaceBench {
    static let modelName = "face-embed"
    static let batch = 32

    let plan: InferencePlan
    let verification: VerificationFile
    let preprocessing: ImagePreprocessing
    let images: [Image]
    let files: [String]

    static func load(models: URL = URL(fileURLWithPath: "models"),
                     photos: URL = URL(fileURLWithPath: "data/faces/test")) -> Result<FaceBench, Error> {
        Result {
            let (loaded, _) = try ModelRepository(root: models).loadLatestValid(modelName)
            guard let p = try ServingConfig(loaded.config).preprocessing else { throw ServingError.internal("no preprocessing") }
            let fm = FileManager.default
            var files: [String] = []
            for person in try fm.contentsOfDirectory(atPath: photos.path).sorted() where !person.hasPrefix(".") {
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: photos.appendingPathComponent(person).path, isDirectory: &isDir), isDir.boolValue else { continue }
                files += try fm.contentsOfDirectory(atPath: photos.appendingPathComponent(person).path).sorted()
                    .filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.map { "\(person)/\($0)" }
                if files.count >= 200 { break }
            }
            files = Array(files.prefix(200))
            let decoder = ImageDecoder()
            let images = try files.map { try decoder.decode(try Data(contentsOf: photos.appendingPathComponent($0))) }
            return FaceBench(plan: InferencePlan(loaded.model), verification: try FileModelStore.verificationFile(loaded),
                             preprocessing: p, images: images, files: files)
        }
    }

    /// The photos' embeddings as the daemon makes them (over the version's test-time views).
    func embed(_ batch: [Image]) -> [[Float]] {
        let xs = batch.map { preprocessing.tensor(from: $0).data }
        return verification.embed(Tensor(shape: [batch.count] + preprocessing.inputShape, data: xs.flatMap { $0 })) { plan.run($0) }
    }

    /// Milliseconds of each of `count` single-photo embeddings (after 10 warm-up runs).
    func latencies(_ count: Int) -> [Double] {
        for i in 0..<10 { _ = embed([images[i % images.count]]) }
        return (0..<count).map { i in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = embed([images[i % images.count]])
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// Milliseconds of each of `count` batches of 32 (after 2 warm-up batches).
    func batchTimes(_ count: Int) -> [Double] {
        func chunk(_ j: Int) -> [Image] {
            let start = (j * Self.batch) % (images.count - Self.batch + 1)
            return Array(images[start..<(start + Self.batch)])
        }
        for j in 0..<2 { _ = embed(chunk(j)) }
        return (0..<count).map { j in
            let t = DispatchTime.now().uptimeNanoseconds
            _ = embed(chunk(j))
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
    }

    /// The first 64 photos' embeddings (batch-1 pipeline), for the peer's check.
    func embeddingsJSON() -> String {
        let n = min(64, images.count)
        let rows = (0..<n).map { embed([images[$0]])[0].map(Double.init) }
        let object: [String: Any] = ["files": Array(files.prefix(n)), "embeddings": rows]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}

/// Identify's search on a gallery of N random unit 128-vectors (seeded):
/// the 5 nearest of one query by `Kernels.nearestRowsHalf` (a pass over the
/// Float16 copy, the best 21 re-scored on the Float32 rows), one thread, as
/// the daemon's `GalleryIndex` runs it.
final class IdentifyBench {
    static let dim = 128
    private(set) var size = 0
    private var rows: [Float] = []
    private var half: [Float16] = []
    private var norms: [Float] = []
    private var scratch: [Float] = []

    func prepare(_ n: Int) {
        guard n != size else { return }
        var rng = SeededGenerator(seed: UInt64(n))
        rows = []; half = []  // free the previous gallery first
        rows = Self.unitVectors(n, rng: &rng)
        half = rows.map { Float16($0) }
        norms = (0..<n).map { i in half[(i * Self.dim)..<((i + 1) * Self.dim)].reduce(0) { $0 + Float($1) * Float($1) } }
        scratch = [Float](repeating: 0, count: n)
        size = n
    }

    static func unitVectors(_ n: Int, rng: inout SeededGenerator) -> [Float] {
        var v = Tensor.uniform([n, dim], low: -1, high: 1, rng: &rng).data
        for i in 0..<n {
            let s = v[(i * dim)..<((i + 1) * dim)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for j in 0..<dim { v[i * dim + j] /= s }
        }
        return v
    }

    /// Milliseconds of each of `count` queries (after 3 warm-up queries).
    func latencies(_ n: Int, count: Int) -> [Double] {
        prepare(n)
        Kernels.setBLASThreads(1)
        var rng = SeededGenerator(seed: 99)
        let queries = Self.unitVectors(count + 3, rng: &rng)
        var out: [Double] = []
        for q in 0..<(count + 3) {
            let t = DispatchTime.now().uptimeNanoseconds
            let found = queries.withUnsafeBufferPointer { pq in
                rows.withUnsafeBufferPointer { pr in
                    half.withUnsafeBufferPointer { ph in
                        norms.withUnsafeBufferPointer { pn in
                            scratch.withUnsafeMutableBufferPointer { ps in
                                Kernels.nearestRowsHalf(query: pq.baseAddress! + q * Self.dim, rows: pr.baseAddress!, halfRows: ph.baseAddress!,
                                                        halfSquaredNorms: pn.baseAddress!, count: size, d: Self.dim, k: 5, scratch: ps.baseAddress!)
                            }
                        }
                    }
                }
            }
            precondition(found.count == 5)
            if q >= 3 { out.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6) }
        }
        return out
    }
}
