import DLNN
import DLTensor
import DLTrain
import Foundation

/// The files a model version and a training job are made of.
enum CheckpointTargets {
    /// A small real model whose state dict fuzzed checkpoints are loaded into.
    nonisolated(unsafe) static let lenet: GraphModel = {
        let layers: [LayerSpec] = [
            LayerSpec(name: "conv1", type: "conv2d", inputs: ["input"], attrs: ["out_channels": 4, "kernel_size": 3]),
            LayerSpec(name: "bn1", type: "batch_norm", inputs: ["conv1"]),
            LayerSpec(name: "relu1", type: "relu", inputs: ["bn1"]),
            LayerSpec(name: "flat", type: "flatten", inputs: ["relu1"]),
            LayerSpec(name: "fc", type: "dense", inputs: ["flat"], attrs: ["units": 3]),
        ]
        return try! GraphModel(spec: ModelSpec(inputShape: [1, 6, 6], layers: layers, output: "fc"))
    }()

    /// safetensors: the 8-byte length, the JSON header (HeaderJSON), offsets,
    /// dtypes; then the tensors loaded into a model's state dict (names, shapes).
    /// Accepted: a file that loads into `lenet`.
    static let safetensors = FuzzTarget("safetensors", "safetensors header, offsets and dtypes; state-dict loading") { bytes in
        guard let file = try? Safetensors.decode(Data(bytes)) else { return false }
        _ = file.names
        return (try? lenet.loadStateDict(file.tensors)) != nil
    }

    /// model.json: decoding, then building the graph (every layer type's attributes, shapes, wiring).
    static let modelJSON = FuzzTarget("model-json", "model.json decoding and graph building") { bytes in
        guard let spec = try? JSONFile.decode(ModelSpec.self, from: Data(bytes)) else { return false }
        return (try? GraphModel(spec: spec)) != nil
    }

    /// config.json: decoding, validation, and the check against a model.
    static let configJSON = FuzzTarget("config-json", "config.json decoding, validation and the model check") { bytes in
        guard let config = try? JSONFile.decode(ModelConfig.self, from: Data(bytes)), (try? config.validate()) != nil else { return false }
        _ = config.mismatch(with: lenet)
        return true
    }

    /// Training recipes of every kind, as `dlserve train` and `POST /v1/jobs` read them.
    static let recipe = FuzzTarget("recipe", "training recipes of every kind: parse and validate") { bytes in
        let data = Data(bytes)
        if SkipGramRecipe.isRecipe(data) { return (try? SkipGramRecipe.parse(data)) != nil }
        if TranslationRecipe.isRecipe(data) { return (try? TranslationRecipe.parse(data)) != nil }
        if DetectionRecipe.isRecipe(data) { return (try? DetectionRecipe.parse(data)) != nil }
        if FaceRecipe.isRecipe(data) { return (try? FaceRecipe.parse(data)) != nil }
        guard let r = try? Recipe.parse(data), (try? r.validate()) != nil else { return false }
        return (try? r.schedule()) != nil
    }
}
