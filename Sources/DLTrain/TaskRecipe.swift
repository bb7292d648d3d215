import DLNN
import Foundation

/// A recipe kind that is not an image/text classifier's `Recipe`, told apart
/// by its `"task"` field (word vectors, translation): `dlserve train` reads
/// the file once and asks each kind whether it is its own.
public protocol TaskRecipe: Decodable {
    /// The recipe's `"task"`.
    static var task: String { get }
    /// Checks the decoded recipe; throws `TrainingError.invalidRecipe` naming the field.
    func validate() throws
}

extension TaskRecipe {
    /// Whether a recipe file's `"task"` is this kind's.
    public static func isRecipe(_ data: Data) -> Bool {
        (try? JSONDecoder().decode(TaskProbe.self, from: data))?.task == task
    }

    /// Decodes and validates a recipe file's contents.
    public static func parse(_ data: Data) throws -> Self {
        let r: Self
        do { r = try JSONDecoder().decode(Self.self, from: data) } catch let e as DecodingError {
            throw TrainingError.invalidRecipe(JSONFile.describe(e))
        }
        try r.validate()
        return r
    }
}

/// Only a recipe's `"task"`.
private struct TaskProbe: Decodable { var task: String? }
