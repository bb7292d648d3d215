import DLServing
import DLTasks

/// The tasks the daemon serves beside classification and V2 inference:
/// adding a task is a folder under Sources/DLTasks and a line here.
enum ServedTasks {
    static let all: [any ServingTask] = [
        Sentiment(),
    ]
}
