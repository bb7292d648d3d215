import DLNN
import DLTrain
import Foundation

/// Checking a recipe at submission: everything `TrainingPlan` would refuse
/// (fields, dataset, labels, architecture, shapes, limits, the existing
/// model's config), without loading the images: the 60,000 images of
/// Fashion-MNIST take seconds and 190 MB to load, too much for each POST.
/// The same messages as `TrainingPlan`, naming the field.
extension RecipeTrainer {
    struct DatasetShape {
        var count: Int
        var imageShape: [Int]
        var classes: [String]
    }

    func check(_ recipe: Recipe, limits: JobLimits) throws {
        try recipe.validate(limits: limits)
        let data = try describe(recipe.dataset.name)
        let count = min(data.count, recipe.dataset.limit ?? data.count)
        guard count <= limits.maxTrainImages else {
            throw TrainingError.invalidRecipe(
                "dataset '\(recipe.dataset.name)' has \(count) training images, more than the maximum of \(limits.maxTrainImages) (set dataset.limit)")
        }
        var labels = data.classes
        if let l = recipe.labels {
            guard l.count == data.classes.count else {
                throw TrainingError.invalidRecipe("labels: \(l.count) names for the \(data.classes.count) classes of '\(recipe.dataset.name)'")
            }
            labels = l
        }
        let model = try buildModel(recipe, imageShape: data.imageShape, classes: labels.count)
        guard model.parameterCount <= limits.maxParameters else {
            throw TrainingError.invalidRecipe("model has \(model.parameterCount) parameters, more than the maximum of \(limits.maxParameters)")
        }
        if let existing = try? repository.config(of: recipe.name) {
            guard existing.labels == labels else {
                throw TrainingError.invalidRecipe("labels: model '\(recipe.name)' already has labels \(existing.labels), this recipe gives \(labels)")
            }
            if let m = existing.mismatch(with: model) {
                throw TrainingError.invalidRecipe("model: \(m) (model '\(recipe.name)' already exists)")
            }
        }
    }

    /// Size, image shape and classes of a training split.
    func describe(_ name: String) throws -> DatasetShape {
        let ref = DatasetReference(name: name, split: .train)
        try datasets.validate(ref)
        if name == "fashion-mnist" {
            return DatasetShape(count: 60_000, imageShape: [1, 28, 28], classes: FashionMNIST.classes)
        }
        // An operator's directory: names are plain directory names (the
        // registry refuses '/', '..' and hidden names), so this stays inside it.
        let d = try datasets.load(ref)
        return DatasetShape(count: d.count, imageShape: Array(d.imageShape), classes: d.classes)
    }

    func buildModel(_ recipe: Recipe, imageShape: [Int], classes: Int) throws -> GraphModel {
        let spec: ModelSpec, field: String
        if let p = recipe.model.preset, let preset = ModelPreset(rawValue: p) {
            spec = preset.spec(inputShape: imageShape, classes: classes, width: recipe.model.width, keepProb: recipe.model.keepProb)
            field = "model.preset"
        } else if let a = recipe.model.architecture {
            guard a.inputShape == imageShape else {
                throw TrainingError.invalidRecipe(
                    "model.architecture.input_shape \(a.inputShape) does not match the images of '\(recipe.dataset.name)' \(imageShape)")
            }
            spec = a
            field = "model.architecture"
        } else {
            return try baseModel(recipe, imageShape: imageShape, classes: classes)
        }
        let model: GraphModel
        do { model = try GraphModel(spec: spec, seed: 0) } catch let e as ModelError {
            throw TrainingError.invalidRecipe(Self.locate(e, in: spec, field: field))
        }
        guard model.outputShape == [classes] else {
            throw TrainingError.invalidRecipe(
                "\(field): the output '\(spec.output)' has shape \(model.outputShape), expected [\(classes)] for the \(classes) classes of '\(recipe.dataset.name)'")
        }
        return model
    }

    func baseModel(_ recipe: Recipe, imageShape: [Int], classes: Int) throws -> GraphModel {
        let base = recipe.model.base ?? ""
        let loaded: LoadedModel
        do {
            let v = try recipe.model.version ?? repository.latestValidVersion(of: base)
            loaded = try repository.load(base, version: v)
        } catch let e as RepositoryError {
            throw TrainingError.invalidRecipe("model.base: \(e)")
        }
        guard loaded.config.input.shape == imageShape else {
            throw TrainingError.invalidRecipe(
                "model.base: '\(base)' takes \(loaded.config.input.shape), the images of '\(recipe.dataset.name)' are \(imageShape)")
        }
        guard loaded.model.outputShape == [classes] else {
            throw TrainingError.invalidRecipe(
                "model.base: '\(base)' has \(loaded.model.outputShape) outputs for the \(classes) classes of '\(recipe.dataset.name)'")
        }
        return loaded.model
    }

    /// "model.architecture.layers[3] ('fc'): <message>" when the error names a layer.
    static func locate(_ e: ModelError, in spec: ModelSpec, field: String) -> String {
        let m = "\(e)"
        if let i = spec.layers.firstIndex(where: { m.contains("'\($0.name)'") }) {
            return "\(field).layers[\(i)] ('\(spec.layers[i].name)'): \(m)"
        }
        return "\(field): \(m)"
    }
}
