import ArgumentParser
import DLNN
import DLServing
import DLTensor
import DLTrain
import DLVision
import Foundation

/// `dlserve predict` with an embedding (face) model: two photos print their
/// distance, the version's tau and the decision; one or more than two print
/// each photo's embedding, one JSON line per file.
enum EmbeddingPredict {
    struct Pair: Encodable {
        var a: String
        var b: String
        var distance: Float
        var tau: Double
        var same: Bool
        var metric: String
    }

    struct Line: Encodable {
        var file: String
        var embedding: [Float]
    }

    static func run(_ loaded: LoadedModel, files: [String]) throws {
        let verification: VerificationFile
        let preprocessing: ImagePreprocessing
        do {
            verification = try FileModelStore.verificationFile(loaded)
            preprocessing = try loaded.config.input.imagePreprocessing()
        } catch { throw ValidationError("\(error)") }
        let decoder = ImageDecoder()
        let tensors = try files.map { f -> [Float] in
            do { return preprocessing.tensor(from: try decoder.decode(try Data(contentsOf: URL(fileURLWithPath: f)))).data } catch {
                throw ValidationError("\(f): \(error)")
            }
        }
        let vectors = verification.embed(Tensor(shape: [files.count] + preprocessing.inputShape, data: tensors.flatMap { $0 })) {
            loaded.model.infer($0)
        }
        if files.count == 2 {
            let distance = verification.distance(vectors[0], vectors[1])
            print(try jsonString(Pair(a: files[0], b: files[1], distance: distance, tau: verification.tau,
                                      same: Double(distance) < verification.tau, metric: verification.metric.rawValue)))
            return
        }
        for (f, v) in zip(files, vectors) { print(try jsonString(Line(file: f, embedding: v))) }
    }
}
