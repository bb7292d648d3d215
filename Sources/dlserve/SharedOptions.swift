import ArgumentParser
import DLNN
import DLTensor
import DLTrain
import Foundation

/// --models: the model repository.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The model repository directory.", valueName: "dir"))
    var models: String = "./models"

    var repository: ModelRepository { ModelRepository(root: URL(fileURLWithPath: models)) }
}

/// --datasets and --threads, shared by the commands that read datasets and compute.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A directory of named IDX datasets (DIR/NAME/train-images-idx3-ubyte.gz, ...), besides the built-in fashion-mnist.",
        valueName: "dir"))
    var datasets: String?

    @Option(name: .long, help: ArgumentHelp(
        "Root of the Fashion-MNIST IDX files.", valueName: "dir"))
    var fashionMnist: String = FashionMNIST.defaultRoot.path

    @Option(name: .long, help: "OpenBLAS threads (default: every core).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 || t > 256 { throw ValidationError("--threads must be between 1 and 256, got \(t)") }
        if let d = datasets {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--datasets \(d) is not a directory")
            }
        }
    }

    var registry: DatasetRegistry {
        DatasetRegistry(fashionMNISTRoot: URL(fileURLWithPath: fashionMnist), directoryRoot: datasets.map { URL(fileURLWithPath: $0) })
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }
}

/// --model models/NAME [--version N]: one version of a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The model directory, models/NAME (its parent is the repository).", valueName: "dir"))
    var model: String

    @Option(name: .long, help: "The version to use (default: the latest valid one).")
    var version: Int?

    func validate() throws {
        if let v = version, v < 1 { throw ValidationError("--version must be at least 1, got \(v)") }
        let name = URL(fileURLWithPath: model).standardized.lastPathComponent
        guard ModelRepository.isValidName(name) else { throw ValidationError("--model \(model): '\(name)' is not a valid model name") }
    }

    var name: String { URL(fileURLWithPath: model).standardized.lastPathComponent }
    var repository: ModelRepository { ModelRepository(root: URL(fileURLWithPath: model).standardized.deletingLastPathComponent()) }

    func load() throws -> LoadedModel {
        let repo = repository
        let v = try version ?? repo.latestValidVersion(of: name)
        return try repo.load(name, version: v)
    }
}

/// Writes to standard error.
func printError(_ s: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((s + terminator).utf8))
}

/// Encodes a value as pretty JSON with sorted keys.
func jsonString<T: Encodable>(_ v: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try e.encode(v), as: UTF8.self)
}
