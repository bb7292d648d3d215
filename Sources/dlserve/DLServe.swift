import ArgumentParser

/// `dlserve`: train, evaluate and serve deep-learning models.
/// (Named DLServeCommand: a type named `DLServe` would shadow the DLServe module that `serve` imports.)
@main
struct DLServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlserve",
        abstract: "Train, evaluate and serve deep-learning models.",
        subcommands: [TrainCommand.self, EvalCommand.self, PredictCommand.self, DebiasCommand.self, Serve.self, JobsCommand.self])
}
