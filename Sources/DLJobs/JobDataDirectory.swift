import DLTrain
import Foundation

/// Where a task recipe's `data.dir` points in a job: a directory under the
/// daemon's data roots (the registry's directory root, then its text root).
/// A leading "data/" is dropped so the recipes in recipes/ post as they are;
/// every path component and file name must be a plain name (no "..", no
/// leading ".", no "/"), so a job never reads outside those roots.
enum JobDataDirectory {
    static func plain(_ component: Substring) -> Bool {
        !component.isEmpty && !component.hasPrefix(".")
            && component.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    /// The first root's directory that holds the first of `files` ((recipe field, file name) pairs).
    static func resolve(_ dir: String?, files: [(field: String, name: String)], datasets: DatasetRegistry) throws -> URL {
        var parts = (dir ?? "").split(separator: "/", omittingEmptySubsequences: false)
        if parts.first == "data" { parts.removeFirst() }
        guard !parts.isEmpty, parts.allSatisfy(plain) else {
            throw TrainingError.invalidRecipe("data.dir: '\(dir ?? "")' must name a directory under the data root with plain names (no '..', no leading '.', no absolute path)")
        }
        for (field, file) in files where !plain(Substring(file)) {
            throw TrainingError.invalidRecipe("\(field): '\(file)' must be a file name in data.dir")
        }
        let relative = parts.joined(separator: "/")
        for root in [datasets.directoryRoot, datasets.textRoot].compactMap({ $0 }) {
            let candidate = root.appendingPathComponent(relative, isDirectory: true)
            if let first = files.first, FileManager.default.fileExists(atPath: candidate.appendingPathComponent(first.name).path) {
                return candidate
            }
        }
        throw TrainingError.invalidRecipe("data.dir: no \(relative)/\(files.first?.name ?? "") under the data root \(datasets.textRoot.path)")
    }
}
