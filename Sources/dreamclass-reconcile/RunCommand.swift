import ArgumentParser
import DreamClassAPI
import EventStore
import Foundation
import ReconcileJob
import Reconciliation
import Reports

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Reconcile the stored webhook events with DreamClass: record the drift as a run and write the report.",
        discussion: """
            Exit codes: 0 finished (with or without drift); 2 drift found and --detailed-exitcode given; \
            75 incomplete (a period could not be read) or another run holds the lock; 1 error; 64 usage.
            """
    )

    @Option(name: .customLong("period"), help: "Reconcile this period only (repeatable).")
    var periods: [Int] = []

    @Flag(help: "Reconcile the periods whose dates contain today (UTC).")
    var current = false

    @Option(help: "Changes newer than this are in flight, not drift: 0, 90s, 15m, 2h.")
    var settle = "15m"

    @Flag(help: "Do not call GetStudent for names and emails (for a first run after a long outage).")
    var skipStudentDetails = false

    @Flag(help: "Do everything but write to the database.")
    var dryRun = false

    @Option(help: "Where the report goes; - is stdout (default: reports/drift-<tenant>-<UTC time>.<format>).")
    var report: String?

    @Option(help: "csv or json.")
    var format: DriftReport.Format = .csv

    @Flag(help: "Exit with 2 when drift was found.")
    var detailedExitcode = false

    @Flag(help: "Backfill the drift found, as `backfill --run` would (not with --dry-run).")
    var backfill = false

    @OptionGroup(title: "Backfill") var backfillOptions: BackfillOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if current, !periods.isEmpty { throw ValidationError("--current and --period exclude each other") }
        if parseDuration(settle) == nil { throw ValidationError("--settle takes 0, 90s, 15m or 2h, not \"\(settle)\"") }
    }

    func run() async throws {
        let api: DreamClassConfiguration
        do { api = try DreamClassConfiguration.fromEnvironment() } catch { throw ValidationError("\(error)") }
        let now = Date()
        let options = ReconcileJob.Options(
            schema: global.resolvedSchema, tenant: api.tenant,
            scope: current ? .current : periods.isEmpty ? .all : .periods(periods),
            settle: parseDuration(settle)!, skipStudentDetails: skipStudentDetails, dryRun: dryRun,
            reportPath: report ?? DriftReport.defaultPath(tenant: api.tenant, at: now, format: format), format: format
        )
        var (code, run) = try await Self.reconcile(options: options, api: api, global: global, now: now, detailedExitcode: detailedExitcode)
        if backfill, !dryRun, let run, run.driftCount > 0 {
            let backfilled = try await backfillOptions.backfill(runID: run.runID, dryRun: false, global: global)
            // The worst of the two: an error, then "try again", then drift.
            code = [1, 75, 2].first { $0 == backfilled || $0 == code } ?? max(code, backfilled)
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Runs one reconciliation and prints its summary; returns the exit code, and the run when it finished.
    static func reconcile(
        options: ReconcileJob.Options, api: DreamClassConfiguration, global: GlobalOptions, now: Date, detailedExitcode: Bool
    ) async throws -> (Int32, RunRecord?) {
        let logger = try global.makeLogger(label: "run")
        let client = try DreamClassClient(configuration: api, logger: logger)
        do {
            let connection = try global.connect(logger: logger)
            let lockConnection = try global.connect(logger: logger)
            let outcome = try await ReconcileJob(options: options, logger: logger)
                .run(connection: connection, lockConnection: lockConnection, client: client, now: now)
            try await client.shutdown()
            // With the report on stdout, the summary goes to stderr so the report stays clean.
            let out = options.reportPath == "-" ? FileHandleOutput.standardError : FileHandleOutput.standardOutput
            out.write(outcome.summary + "\n")
            if outcome.run.status == .incomplete {
                out.write("incomplete: \(outcome.run.error ?? "some periods could not be read"); their enrollments were not diffed\n")
            }
            if let path = options.reportPath, path != "-" { out.write("report: \(path)\n") }
            if options.dryRun { out.write("dry run: nothing was written to the database\n") }
            if outcome.run.status == .incomplete { return (75, outcome.run) }
            return (detailedExitcode && outcome.run.driftCount > 0 ? 2 : 0, outcome.run)
        } catch let error as ReconcileError {
            try? await client.shutdown()
            FileHandleOutput.standardError.write("error: \(error)\n")
            if case .locked = error { return (75, nil) }
            return (1, nil)
        } catch {
            try? await client.shutdown()
            FileHandleOutput.standardError.write("error: \(error)\n")
            return (1, nil)
        }
    }
}

extension DriftReport.Format: ExpressibleByArgument {}
