import DLJobs
import DLTrain
import Foundation

/// DLTrain's `EpochMetrics` has no public memberwise initializer; tests build
/// it from its JSON form.
func epochMetrics(_ epoch: Int, trainLoss: Float, trainAccuracy: Float, devLoss: Float? = nil,
                  devAccuracy: Float? = nil, seconds: Double = 0, learningRate: Float = 0.01) -> EpochMetrics {
    var json: [String: Any] = [
        "epoch": epoch, "learning_rate": learningRate, "train_loss": trainLoss, "train_accuracy": trainAccuracy,
        "seconds": seconds, "images_per_second": 1000.0,
    ]
    if let devLoss { json["dev_loss"] = devLoss }
    if let devAccuracy { json["dev_accuracy"] = devAccuracy }
    let data = try! JSONSerialization.data(withJSONObject: json)
    return try! JSONDecoder().decode(EpochMetrics.self, from: data)
}
