import ArgumentParser
import DemoJob
import FileOutput

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See the whole job on a throwaway PostgreSQL and the built-in DreamClass simulator.",
        discussion: """
            Starts a private PostgreSQL server and the simulator with a generated school, ingests a \
            webhook stream with an outage in it (creates, updates and deletes missing, out-of-order \
            deliveries, duplicates), runs the reconciliation, prints the summary and the report's \
            path, and removes the server. Needs PostgreSQL's server binaries (Debian: apt-get \
            install postgresql).
            """
    )

    @Option var periods = 6
    @Option var studentsPerPeriod = 120
    @Option(help: "Enrollments of each kind the outage adds, changes and removes.") var outageChanges = 4
    @Option var seed: UInt64 = 1
    @Option(help: "Where the report goes (default: reports/drift-\(DemoJob.tenant)-<UTC time>.csv).") var report: String?

    func validate() throws {
        guard (1...1_000).contains(periods) else { throw ValidationError("--periods takes 1 to 1000, not \(periods)") }
        guard (1...10_000).contains(studentsPerPeriod) else { throw ValidationError("--students-per-period takes 1 to 10000, not \(studentsPerPeriod)") }
        guard (0...1_000).contains(outageChanges) else { throw ValidationError("--outage-changes takes 0 to 1000, not \(outageChanges)") }
    }

    func run() async throws {
        var logger = try GlobalOptions.parse([]).makeLogger(label: "demo")
        logger.logLevel = .warning
        var job = DemoJob()
        (job.periods, job.studentsPerPeriod, job.outageChanges, job.seed, job.reportPath) = (periods, studentsPerPeriod, outageChanges, seed, report)
        try await exitOnFailure {
            let result = try await job.run(logger: logger) { try StandardStream.output.line($0) }
            for line in [result.outcome.summary, result.hidden, "report: \(result.reportPath)"] { try StandardStream.output.line(line) }
        }
    }
}
