import DLServing

/// Every task the daemon serves, in the order their routes are listed:
/// adding a task is a folder under Sources/DLTasks and a line here. The
/// daemon's entry point registers this list (V2 inference is the serving
/// core's own and needs no task).
public enum ServedTasks {
    public static let all: [any ServingTask] = [
        Classification(),
        ObjectDetection(),
        FaceVerification(),
        FaceEmbedding(),
        Sentiment(),
        Translation(),
        NearestWords(),
        WordAnalogy(),
        WordDebias(),
    ]
}
