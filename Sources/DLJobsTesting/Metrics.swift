import DLJobs
import DLTrain
import Foundation

/// DLTrain's `EpochMetrics` has no public memberwise initializer: tests decode
/// a blank one and set its (public) fields.
public func epochMetrics(_ epoch: Int, trainLoss: Float, trainAccuracy: Float, devLoss: Float? = nil,
                  devAccuracy: Float? = nil, seconds: Double = 0, learningRate: Float = 0.01) -> EpochMetrics {
    let blank = #"{"epoch":0,"learning_rate":0,"train_loss":0,"train_accuracy":0,"seconds":0,"images_per_second":1000}"#
    var m = try! JSONDecoder().decode(EpochMetrics.self, from: Data(blank.utf8))
    m.epoch = epoch
    m.trainLoss = trainLoss
    m.trainAccuracy = trainAccuracy
    m.devLoss = devLoss
    m.devAccuracy = devAccuracy
    m.seconds = seconds
    m.learningRate = learningRate
    return m
}
