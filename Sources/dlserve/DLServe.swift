import ArgumentParser

@main
struct DLServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlserve",
        abstract: "A deep-learning engine, model server and training queue.",
        subcommands: [Serve.self, TrainCommand.self, EvalCommand.self, PredictCommand.self, JobsCommand.self]
    )
}
