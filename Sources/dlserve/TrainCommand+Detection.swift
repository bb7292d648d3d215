import DLKernels
import DLTrain
import Foundation

extension TrainCommand {
    /// A detection recipe (`"task": "detection"`): anchors by k-means over the
    /// training boxes, YOLO loss, published with detection.json; the held-out
    /// images' mAP in metrics.json and the summary.
    func trainDetection(_ data: Data) throws {
        let recipe = try DetectionRecipe.parse(data)
        Kernels.setBLASThreads(compute.threadCount)
        let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if dryRun {
            let dir = recipe.data.dir.map { $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : base.appendingPathComponent($0) } ?? base
            let split = try DetectionSplit.load(dir.appendingPathComponent(recipe.data.train), limit: recipe.data.limit)
            print(try jsonString(["name": recipe.name, "images": String(split.scenes.count), "classes": String(split.classes.count),
                                  "objects": String(split.scenes.reduce(0) { $0 + $1.objects.count })]))
            return
        }
        let quiet = self.quiet
        let (version, trained) = try recipe.run(base: base, repository: repository.repository,
                                                checkpoint: checkpoint.map { URL(fileURLWithPath: $0) }) { trainer in
            guard !quiet else { return }
            printError("\(recipe.name): \(trainer.model.parameterCount) parameters; \(trainer.train.count) training images, "
                       + "anchors \(trainer.grid.anchors.map { String(format: "%.0fx%.0f", $0.width, $0.height) }); "
                       + "\(compute.threadCount) threads"
                       + (trainer.epochsCompleted > 0 ? "; resuming after epoch \(trainer.epochsCompleted)" : ""))
            trainer.onProgress = { p in
                guard p.batch % 50 == 0 || p.batch == p.batches else { return }
                printError(String(format: "epoch %d batch %d/%d: loss %.3f, lr %.2e, %.1f images/s",
                                  p.epoch, p.batch, p.batches, p.loss, p.learningRate, p.imagesPerSecond))
            }
            trainer.onEpoch = { e in
                printError(String(format: "epoch %d: loss %.3f (box %.3f, objectness %.3f, classes %.3f), dev mAP@0.5 %.4f, %.0f s, %.1f images/s",
                                  e.epoch, e.loss, e.boxLoss, e.objectLoss, e.classLoss, e.devMAP50 ?? .nan, e.seconds, e.imagesPerSecond))
            }
        }
        struct Summary: Encodable {
            var model: String, version: Int, parameters: Int, trainImages: Int, devMAP50: Double, devCOCOMAP: Double
            enum CodingKeys: String, CodingKey {
                case model, version, parameters
                case trainImages = "train_images", devMAP50 = "dev_map50", devCOCOMAP = "dev_coco_map"
            }
        }
        print(try jsonString(Summary(model: recipe.name, version: version, parameters: trained.model.parameterCount,
                                     trainImages: trained.trainImages, devMAP50: trained.dev.vocMAP50, devCOCOMAP: trained.dev.cocoMAP)))
    }
}
