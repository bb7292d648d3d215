import DLNN
import DLVision
import Foundation

extension FileModelStore {
    /// A detection version's head geometry (`detection.json`), checked
    /// against the model: the input is [3, H, W] of the geometry's size, the
    /// output [anchors x (5 + classes), H / stride, W / stride], and there is
    /// one label per class in config.json.
    static func detectionResources(_ loaded: LoadedModel) throws -> VersionResources {
        VersionResources(detection: try detectionGrid(loaded))
    }

    /// The checked geometry of a detection version (the command line's
    /// predict and eval read it too). Errors are `RepositoryError.badConfig`.
    public static func detectionGrid(_ loaded: LoadedModel) throws -> YOLOGrid {
        func bad(_ m: String) -> RepositoryError {
            .badConfig(model: loaded.config.name, message: "version \(loaded.version): \(m)")
        }
        let file = loaded.directory.appendingPathComponent("detection.json")
        let grid: YOLOGrid
        do { grid = try JSONDecoder().decode(YOLOGrid.self, from: Data(contentsOf: file)) } catch {
            throw bad("detection.json: \(error is DecodingError ? "not a detection head description" : "cannot be read") (\(error))")
        }
        guard grid.stride > 0, grid.inputWidth % grid.stride == 0, grid.inputHeight % grid.stride == 0, !grid.anchors.isEmpty,
              grid.anchors.allSatisfy({ $0.width > 0 && $0.height > 0 }), grid.classes > 0 else {
            throw bad("detection.json: stride, anchors and classes must be positive, the input a multiple of the stride")
        }
        if let problem = grid.tiling?.problem { throw bad("detection.json: \(problem)") }
        let input = [3, grid.inputHeight, grid.inputWidth], output = [grid.channels, grid.gridHeight, grid.gridWidth]
        guard loaded.model.inputShape == input else { throw bad("the model reads \(loaded.model.inputShape), detection.json says \(input)") }
        guard loaded.model.outputShape == output else {
            throw bad("the model's head is \(loaded.model.outputShape), detection.json needs \(output)")
        }
        guard loaded.config.labels.count == grid.classes else {
            throw bad("config.json has \(loaded.config.labels.count) labels for \(grid.classes) classes")
        }
        return grid
    }
}
