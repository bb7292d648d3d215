import ArgumentParser
import DLKernels
import DLNN
import DLTensor
import DLTrain
import Foundation

/// `dlserve predict --model models/NAME FILE...`: classifies image files.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify image files with a model version.",
        discussion: """
            Reads PGM images (P2/P5, the model's size) and IDX image files (every image in the file, \
            gzip-compressed or not). Prints one JSON object per image: the file, the top labels and \
            their probabilities.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "How many labels to print per image.")
    var topK: Int = 3

    @Argument(help: ArgumentHelp("Image files.", valueName: "file"))
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one image file") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        for f in files where !FileManager.default.fileExists(atPath: f) { throw ValidationError("\(f) does not exist") }
    }

    func run() throws {
        let loaded = try model.load()
        let shape = loaded.config.input.shape
        let labels = loaded.config.labels
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for file in files {
            let images = try ImageFiles.read(URL(fileURLWithPath: file), shape: shape)
            let x = loaded.config.input.preprocessing.apply(to: images.tensor)
            let logits = loaded.model.infer(x)
            let k = labels.count
            for i in 0..<images.names.count {
                let p = softmax(Array(logits.data[(i * k)..<((i + 1) * k)]))
                let top = p.indices.sorted { p[$0] > p[$1] }.prefix(topK)
                let line = Line(file: images.names[i], model: loaded.name, version: loaded.version,
                                predictions: top.map { .init(label: labels[$0], probability: p[$0]) })
                print(String(decoding: try encoder.encode(line), as: UTF8.self))
            }
        }
    }

    func softmax(_ z: [Float]) -> [Float] {
        let m = z.max() ?? 0
        let e = z.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    struct Line: Encodable {
        struct Prediction: Encodable { var label: String; var probability: Float }
        var file: String
        var model: String
        var version: Int
        var predictions: [Prediction]
    }
}

/// Image files the command line reads without an image library: binary and
/// ASCII PGM, and IDX image files. Pixels are scaled to [0, 1] (v / maxval).
enum ImageFiles {
    struct Images {
        var names: [String]
        /// [N, C, H, W] in [0, 1].
        var tensor: Tensor
    }

    static func read(_ url: URL, shape: [Int]) throws -> Images {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ValidationError("cannot read \(url.path): \(error.localizedDescription)") }
        if data.starts(with: [0x50, 0x35]) || data.starts(with: [0x50, 0x32]) {  // "P5", "P2"
            let (w, h, pixels) = try pgm([UInt8](data), what: url.path)
            guard shape == [1, h, w] else {
                throw ValidationError("\(url.path) is a \(w)x\(h) grey image, the model takes \(shape) (resize it first)")
            }
            return Images(names: [url.path], tensor: Tensor(shape: [1, 1, h, w], data: pixels))
        }
        let idx = try IDXFile.read(url)
        let dims = idx.dims.count == 3 ? [idx.dims[0], 1, idx.dims[1], idx.dims[2]] : idx.dims
        guard dims.count == 4, Array(dims.dropFirst()) == shape else {
            throw ValidationError("\(url.path): IDX images \(idx.dims) do not fit the model's input \(shape)")
        }
        return Images(names: (0..<dims[0]).map { "\(url.path)#\($0)" },
                      tensor: Tensor(shape: dims, data: idx.bytes.map { Float($0) / 255 }))
    }

    /// Netpbm PGM: "P5" or "P2", width, height, maxval (<= 65535), then pixels.
    static func pgm(_ b: [UInt8], what: String) throws -> (Int, Int, [Float]) {
        var i = 2
        func token() throws -> Int {
            while i < b.count {
                if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 { i += 1 } }
                else if b[i] == 32 || (9...13).contains(b[i]) { i += 1 }
                else { break }
            }
            var v = 0, digits = 0
            while i < b.count, (48...57).contains(b[i]), digits < 9 { v = v * 10 + Int(b[i] - 48); i += 1; digits += 1 }
            guard digits > 0 else { throw ValidationError("\(what): malformed PGM header") }
            return v
        }
        let binary = b[1] == UInt8(ascii: "5")
        let w = try token(), h = try token(), maxval = try token()
        guard w > 0, h > 0, w * h <= 1 << 24, (1...65535).contains(maxval) else {
            throw ValidationError("\(what): PGM size \(w)x\(h) or maxval \(maxval) is not supported")
        }
        var pixels = [Float](repeating: 0, count: w * h)
        if binary {
            i += 1  // one whitespace byte after maxval
            let bpp = maxval > 255 ? 2 : 1
            guard b.count - i >= w * h * bpp else { throw ValidationError("\(what): truncated PGM data") }
            for p in 0..<(w * h) {
                let v = bpp == 1 ? Int(b[i + p]) : Int(b[i + 2 * p]) << 8 | Int(b[i + 2 * p + 1])
                pixels[p] = Float(min(v, maxval)) / Float(maxval)
            }
        } else {
            for p in 0..<(w * h) { pixels[p] = Float(min(try token(), maxval)) / Float(maxval) }
        }
        return (w, h, pixels)
    }
}
