import FileOutput
import ArgumentParser
import BuildInfo

/// Finds and repairs the DreamClass webhooks a school's systems missed.
@main
struct DreamClassReconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dreamclass-reconcile",
        abstract: "Find and repair the DreamClass student-period webhooks a school's systems missed.",
        version: BuildInfo.line,
        subcommands: [DemoCommand.self, MigrateCommand.self, IngestCommand.self, RunCommand.self, BackfillCommand.self, ReportCommand.self, RunsCommand.self, PruneCommand.self, ConfigCommand.self, ServeCommand.self]
    )

    /// ArgumentParser's own `main`, after making a closed pipe an error of the write that meets
    /// it (EPIPE, reported, exit 1) instead of a signal that ends the process without a word.
    static func main() async {
        StandardStream.ignoreBrokenPipeSignal()
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch where ExitCodes.classified(error) != nil {
            // The product's errors end by the exit-code contract, the error as the last line.
            ExitCodes.exit(with: error)
        } catch {
            exit(withError: error)
        }
    }
}
