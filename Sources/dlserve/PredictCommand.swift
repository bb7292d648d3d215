import ArgumentParser
import DLKernels
import DLNN
import DLTensor
import DLTrain
import DLVision
import DLServing
import DLText
import Foundation

/// `dlserve predict --model models/NAME FILE...`: classifies image files, or
/// for a text model (sentiment) the texts given as arguments.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify image files (or, with a text model, texts) with a model version.",
        discussion: """
            Reads PNG, JPEG and PGM images, and IDX image files (every image in the file, gzip-compressed \
            or not). Each image is converted, resized and normalized exactly as the server does, from the \
            model's config.json. Prints one JSON object per image: the file, the top labels and their \
            probabilities. With a text model (config.json input.text) the arguments are texts, tokenized \
            with the version's vocabulary: `dlserve predict --model models/sentiment-rt "a gorgeous film"`; \
            each line also counts the words the vocabulary does not know. With a translation model the \
            arguments are English texts: `dlserve predict --model models/translate-en-es "Open the file."`; \
            each line has the translation and its score (log P / length^alpha), and with --n-best the list. \
            With a detection model each line lists the boxes found (label, score, [x1, y1, x2, y2] in the image's \
            pixels); `--output boxes.png` writes the image with the boxes drawn. With an embedding (face) model, \
            two photos print their distance, the version's tau and whether they show one person \
            (`dlserve predict --model models/face-embed a.png b.png`); other counts print each photo's embedding.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "How many labels to print per image.")
    var topK: Int = 3

    @OptionGroup var translation: TranslationPredictOptions

    @OptionGroup var detection: DetectionPredictOptions

    @Argument(help: ArgumentHelp("Image files (texts for a text model).", valueName: "file"))
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one image file (or text)") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        // Image models read files; a text model (input.text in config.json) reads its arguments as texts.
        let takesText = (try? model.repository.config(of: model.name))?.input.text != nil
        if !takesText {
            for f in files where !FileManager.default.fileExists(atPath: f) { throw ValidationError("\(f) does not exist") }
        }
    }

    func run() throws {
        let loaded = try model.load()
        if loaded.config.task == .translation {
            return try translation.run(loaded, texts: files)
        }
        if loaded.config.task == .detection {
            return try detection.run(loaded, files: files)
        }
        if loaded.config.task == .embedding {
            return try EmbeddingPredict.run(loaded, files: files)
        }
        if let text = loaded.config.input.text {
            return try predictTexts(loaded, text)
        }
        let input = loaded.config.input
        guard input.shape.count == 3 else { throw ValidationError("model '\(loaded.name)' does not take images (input \(input.shape))") }
        let p = input.preprocessing
        let preprocessing = try ImagePreprocessing(
            channels: input.shape[0], height: input.shape[1], width: input.shape[2],
            resize: ResizeMethod(rawValue: p.resize.rawValue) ?? .auto, scale: p.scale, mean: p.mean, std: p.std, invert: p.invert)
        let labels = loaded.config.labels
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for file in files {
            let images = try ImageFiles.read(URL(fileURLWithPath: file))
            for start in stride(from: 0, to: images.count, by: 256) {
                let batch = images[start..<min(start + 256, images.count)]
                let x = Tensor.concat(batch.map { preprocessing.tensor(from: $0.image) }, axis: 0)
                let logits = loaded.model.infer(x)
                let k = labels.count
                for (i, item) in batch.enumerated() {
                    let probs = Probabilities.softmax(Array(logits.data[(i * k)..<((i + 1) * k)]))
                    let top = Probabilities.topK(probs, k: topK).map(\.index)
                    let line = Line(file: item.name, model: loaded.name, version: loaded.version,
                                    predictions: top.map { Line.Prediction(label: labels[$0], probability: probs[$0]) })
                    print(String(decoding: try encoder.encode(line), as: UTF8.self))
                }
            }
        }
    }

    /// Each argument is a text: one JSON line with its labels, probabilities and unknown words.
    func predictTexts(_ loaded: LoadedModel, _ text: ModelConfig.TextInput) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for line in try Self.predict(texts: files, loaded, text, topK: topK) {
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
    }

    static func predict(texts: [String], _ loaded: LoadedModel, _ text: ModelConfig.TextInput, topK: Int) throws -> [TextLine] {
        // The server's encoding (tokenizer, vocabulary, the same limits and messages).
        let resources = VersionResources(vocabulary: try Vocabulary.load(loaded.directory.appendingPathComponent(text.vocabulary)),
                                         tokenizer: Tokenizer(lowercase: text.lowercase), maxLength: text.maxLength)
        let labels = loaded.config.labels
        var lines: [TextLine] = []
        for (i, t) in texts.enumerated() {
            let ids: [Int], unknown: Int
            do { (ids, unknown) = try resources.encode(t, field: "text \(i + 1)") } catch ServingError.invalidInput(let m) {
                throw ValidationError(m)
            }
            let logits = loaded.model.infer(Tensor(shape: [1, ids.count], data: ids.map(Float.init))).data
            let top = Probabilities.topK(Probabilities.softmax(logits), k: topK)
            lines.append(TextLine(text: t, model: loaded.name, version: loaded.version, tokens: ids.count, unknownWords: unknown,
                                  predictions: top.map { Line.Prediction(label: $0.index < labels.count ? labels[$0.index] : String($0.index),
                                                                         probability: $0.value) }))
        }
        return lines
    }

    struct TextLine: Encodable {
        var text: String
        var model: String
        var version: Int
        var tokens: Int
        var unknownWords: Int
        var predictions: [Line.Prediction]
        enum CodingKeys: String, CodingKey {
            case text, model, version, tokens, predictions
            case unknownWords = "unknown_words"
        }
    }


    struct Line: Encodable {
        struct Prediction: Encodable { var label: String; var probability: Float }
        var file: String
        var model: String
        var version: Int
        var predictions: [Prediction]
    }
}

/// The image files the command line reads: PNG and JPEG (DLVision), binary
/// and ASCII PGM, and IDX image files ([N, H, W] grey or [N, C, H, W]).
enum ImageFiles {
    static func read(_ url: URL) throws -> [(name: String, image: Image)] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ValidationError("cannot read \(url.path): \(error.localizedDescription)") }
        if data.starts(with: [0x50, 0x35]) || data.starts(with: [0x50, 0x32]) {  // "P5", "P2"
            let (w, h, pixels) = try pgm([UInt8](data), what: url.path)
            return [(url.path, Image(width: w, height: h, channels: 1, pixels: pixels.map { UInt8(($0 * 255).rounded()) }))]
        }
        let isIDX = Gzip.isGzip(data) || data.starts(with: [0, 0, 0x08])
        guard isIDX else {
            do { return [(url.path, try ImageDecoder().decode(data))] } catch {
                throw ValidationError("\(url.path): \(error)")
            }
        }
        let idx = try IDXFile.read(url)
        guard idx.dims.count == 3 || (idx.dims.count == 4 && [1, 3].contains(idx.dims[1])) else {
            throw ValidationError("\(url.path): IDX data \(idx.dims) is not a list of images")
        }
        let (n, c, h, w) = idx.dims.count == 3 ? (idx.dims[0], 1, idx.dims[1], idx.dims[2]) : (idx.dims[0], idx.dims[1], idx.dims[2], idx.dims[3])
        let size = c * h * w
        return (0..<n).map { i in
            let chw = idx.bytes[(i * size)..<((i + 1) * size)]
            // DLVision images are interleaved (HWC).
            var hwc = [UInt8](repeating: 0, count: size)
            for ch in 0..<c { for p in 0..<(h * w) { hwc[p * c + ch] = chw[chw.startIndex + ch * h * w + p] } }
            return ("\(url.path)#\(i)", Image(width: w, height: h, channels: c, pixels: hwc))
        }
    }

    /// Netpbm PGM: "P5" or "P2", width, height, maxval (<= 65535), then pixels, scaled to [0, 1].
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
