import DLNN
import Foundation

extension FileModelStore {
    /// An embedding version's `verification.json` (metric, tau), checked
    /// against the model: its output is a [dim] vector. The command line's
    /// predict and eval read it too. Errors are `RepositoryError.badConfig`.
    public static func verificationFile(_ loaded: LoadedModel) throws -> VerificationFile {
        func bad(_ m: String) -> RepositoryError { .badConfig(model: loaded.config.name, message: "version \(loaded.version): \(m)") }
        let file: VerificationFile
        do { file = try VerificationFile.load(loaded.directory.appendingPathComponent(VerificationFile.fileName)) } catch {
            throw bad("\(error)")
        }
        guard loaded.model.outputShape == [file.dim] else {
            throw bad("the model's output is \(loaded.model.outputShape), \(VerificationFile.fileName) says [\(file.dim)]")
        }
        guard loaded.model.inputShape.count == 3 else { throw bad("an embedding model reads an image [C, H, W], not \(loaded.model.inputShape)") }
        return file
    }
}
