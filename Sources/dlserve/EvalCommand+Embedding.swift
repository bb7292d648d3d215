import ArgumentParser
import DLNN
import DLServing
import DLTrain
import Foundation

/// `dlserve eval` of an embedding model on face pairs: a folder per person
/// with LFW's pairs.txt in it (DATA/NAME/SPLIT, e.g. faces:test, or `--data
/// DIR`). The ten-fold protocol (tau chosen on nine folds, accuracy on the
/// tenth), the AUC, the accuracy at the version's own tau, and every pair's
/// distance in file order; `--roc FILE` also draws the ROC curve as SVG.
enum EmbeddingEval {
    struct Output: Encodable {
        var model: String
        var version: Int
        var dataset: String
        var people: Int
        var photos: Int
        var score: VerificationScore
        var tau: Double
        var accuracyAtTau: Double
        var metric: String
        var distances: [Double]
        /// Whether each pair is one person (not printed; the ROC curve's labels).
        var same: [Bool]
        var photosPerSecond: Double
        var seconds: Double
        enum CodingKeys: String, CodingKey {
            case model, version, dataset, people, photos, tau, metric, distances, seconds
            case accuracyAtTau = "accuracy_at_tau", photosPerSecond = "photos_per_second"
            case pairs, folds, auc, accuracyMean = "accuracy_mean", accuracyStd = "accuracy_std"
            case foldAccuracies = "fold_accuracies", foldTaus = "fold_taus"
        }
        func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            try c.encode(model, forKey: .model); try c.encode(version, forKey: .version); try c.encode(dataset, forKey: .dataset)
            try c.encode(people, forKey: .people); try c.encode(photos, forKey: .photos)
            try c.encode(score.pairs, forKey: .pairs); try c.encode(score.folds, forKey: .folds)
            try c.encode(score.accuracyMean, forKey: .accuracyMean); try c.encode(score.accuracyStd, forKey: .accuracyStd)
            try c.encode(score.foldAccuracies, forKey: .foldAccuracies); try c.encode(score.foldTaus, forKey: .foldTaus)
            try c.encode(score.auc, forKey: .auc); try c.encode(tau, forKey: .tau); try c.encode(accuracyAtTau, forKey: .accuracyAtTau)
            try c.encode(metric, forKey: .metric); try c.encode(photosPerSecond, forKey: .photosPerSecond)
            try c.encode(seconds, forKey: .seconds); try c.encode(distances, forKey: .distances)
        }
    }

    static func run(_ loaded: LoadedModel, dataset: DatasetReference, dir: String?, roc: String?, dataRoot: URL) throws {
        let url = dir.map { URL(fileURLWithPath: $0) }
            ?? dataRoot.appendingPathComponent(dataset.name, isDirectory: true).appendingPathComponent(dataset.split.rawValue, isDirectory: true)
        let out = try measure(loaded, dir: url, name: dir ?? dataset.description)
        if let roc {
            let curve = ROCCurve(distances: out.distances, same: out.same)
            do { try AtomicFile.write(Data(curve.svg(title: "\(loaded.name) v\(loaded.version) on \(out.dataset)").utf8), to: URL(fileURLWithPath: roc)) } catch {
                throw ValidationError("--roc \(roc): \(error)")
            }
        }
        print(try jsonString(out))
    }

    static func measure(_ loaded: LoadedModel, dir: URL, name: String) throws -> Output {
        let verification: VerificationFile, set: FaceSet, pairs: FacePairs, indices: [(Int, Int)]
        do {
            verification = try FileModelStore.verificationFile(loaded)
            pairs = try FacePairs.load(dir.appendingPathComponent(FacePairs.fileName))
            set = try FaceSet.load(dir, preprocessing: try loaded.config.input.imagePreprocessing())
            indices = try pairs.indices(in: set)
        } catch { throw ValidationError("\(error)") }
        let start = Date()
        let distances = FaceEmbedder(model: loaded.model, verification: verification).distances(set, pairs: indices)
        let seconds = Date().timeIntervalSince(start)
        let same = pairs.pairs.map(\.same)
        return Output(model: loaded.name, version: loaded.version, dataset: name, people: set.names.count, photos: set.count,
                      score: Verification.kFold(distances: distances, same: same, folds: pairs.pairs.map(\.fold)),
                      tau: verification.tau, accuracyAtTau: Verification.accuracy(distances: distances, same: same, tau: verification.tau),
                      metric: verification.metric.rawValue, distances: distances, same: same,
                      photosPerSecond: Double(set.count) / max(seconds, 1e-9), seconds: seconds)
    }
}
