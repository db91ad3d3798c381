import ArgumentParser

/// Finds and repairs the DreamClass webhooks a school's systems missed.
@main
struct DreamClassReconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dreamclass-reconcile",
        abstract: "Find and repair the DreamClass student-period webhooks a school's systems missed.",
        subcommands: [DemoCommand.self, MigrateCommand.self, IngestCommand.self, RunCommand.self, BackfillCommand.self, ReportCommand.self, RunsCommand.self, ConfigCommand.self, ServeCommand.self]
    )
}
