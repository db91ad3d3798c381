import ArgumentParser
import FleetJob
import Foundation
import Models
import Monitoring
import MallocTuning
import Reports
import Settings

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Reconcile the stored webhook events with DreamClass: record the drift as a run and write the report.",
        discussion: """
            One school from the DREAMCLASS_* environment, or from a --config file: one --school, or \
            --all-tenants. Exit codes: 0 finished (with or without drift); 2 drift found and \
            --detailed-exitcode given; 3 the backfill's guard held deletes; 75 try again later (a period \
            could not be read, another run holds the lock, the deadline passed, DreamClass throttled or \
            failed, PostgreSQL unavailable or a lock held); 78 a setting is wrong (401/403, an unreadable \
            secret, a school not in the file) or the missed creates are suspect (no stored event, or more \
            than max_creates of the roster; --allow-mass-create for a first load); 64 usage; 1 error; \
            143/130 stopped by SIGTERM/SIGINT (the run is recorded as interrupted, no report is written). \
            With several schools, the worst of theirs.
            """
    )

    @Option(name: .customLong("period"), help: "Reconcile this period only (repeatable).")
    var periods: [Int] = []

    @Flag(help: "Reconcile the periods whose dates contain today (UTC).")
    var current = false

    @Option(help: "Changes newer than this are in flight, not drift: 0, 90s, 15m, 2h (default 15m).")
    var settle: String?

    @Flag(help: "Do not call GetStudent for names and emails (for a first run after a long outage).")
    var skipStudentDetails = false

    @Flag(help: "Do everything but write to the database.")
    var dryRun = false

    @Flag(help: "Fold every stored event, not only those since the last run, and replace the kept state (it must come out the same).")
    var fullRefold = false

    @Option(help: "Where the report goes; - is stdout (default: reports/drift-<tenant>-<UTC time>.<format>).")
    var report: String?

    @Option(help: "csv or json.")
    var format: DriftReport.Format = .csv

    @Flag(help: "Exit with 2 when drift was found.")
    var detailedExitcode = false

    @Flag(help: "Backfill the drift found, as `backfill --run` would (not with --dry-run).")
    var backfill = false

    @Option(help: "With --config: the school to run.")
    var school: String?

    @Flag(help: "With --config: run every school in it.")
    var allTenants = false

    @Option(help: "With --all-tenants: schools run at once.")
    var parallel = 2

    @Option(help: "Skip a school whose last complete run finished within this (90s, 15m, 2h, 1d); a school another worker holds is tried again after the rest. For several workers sharing the schools.")
    var freshWithin: String?

    @Option(help: "Stop waiting on DreamClass (and the backfill's endpoint) after this: 90s, 15m, 2h, 1d (default: the school's deadline, else 3h). What is unread then is unverified; exit 75.")
    var deadline: String?

    @Option(help: "Write Prometheus metrics of the run(s) to this file (node_exporter's textfile collector), atomically.")
    var metricsFile: String?

    @Option(help: "Push the metrics of the run(s) to this Prometheus Pushgateway (grouped by job and school; the last-success gauge only on success): for a job no scraper reaches, such as a Kubernetes CronJob.")
    var metricsPush: String?

    @Option(help: "healthchecks.io-style ping URL: URL/start, then URL or URL/fail, with the run's id.")
    var ping: String?

    @OptionGroup(title: "Backfill") var backfillOptions: BackfillOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if current, !periods.isEmpty { throw ValidationError("--current and --period exclude each other") }
        if let bad = periods.first(where: { $0 < 1 }) { throw ValidationError("--period takes a period id from 1, not \(bad)") }
        if let settle, parseDuration(settle) == nil { throw ValidationError("--settle takes 0, 90s, 15m or 2h, not \"\(settle)\"") }
        if (school != nil || allTenants), global.resolvedConfigPath == nil { throw ValidationError("--school and --all-tenants need --config") }
        if school != nil, allTenants { throw ValidationError("--school and --all-tenants exclude each other") }
        if allTenants, report != nil { throw ValidationError("--report names one file; with --all-tenants each school's report goes to its report_dir") }
        // Two connections a school: 32 at once stay within PostgreSQL's default max_connections (100).
        if !(1...32).contains(parallel) { throw ValidationError("--parallel takes 1 to 32, not \(parallel)") }
        if let ping, let problem = EndpointURL.problem(ping) { throw ValidationError("--ping \(problem)") }
        if let metricsPush, let problem = EndpointURL.problem(metricsPush) { throw ValidationError("--metrics-push \(problem)") }
        if let freshWithin, parseDuration(freshWithin) == nil {
            throw ValidationError("--fresh-within takes a duration (90s, 15m, 2h, 1d), not \"\(freshWithin)\"")
        }
        try validateDeadline(deadline)
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        MallocArenas.limit(environment: environment)
        let schools = try SchoolSelection.select(
            configPath: global.resolvedConfigPath, school: school, allTenants: allTenants, environment: environment,
            warning: { printError("warning: \($0)\n") }
        )
        let global = self.global
        let reporting = FleetReporting(metricsFile: metricsFile, metricsPush: metricsPush,
                                       ping: try ping.map { HealthPing(url: $0, logger: try global.makeLogger(label: "ping")) })
        await reporting.started()
        let fleet = FleetRunner(
            options: fleetOptions(), console: .commandLine, stop: { Interruption.stop }, makeLogger: { try global.makeLogger(label: $0) },
            connections: RunConnections { try global.connect(logger: $0) }, environment: environment
        )
        let results = try await Interruption.run { await fleet.run(schools) }
        let worst = await reporting.finished(results, console: .commandLine)
        if worst != ExitStatus.ok { throw ExitCode(worst) }
    }

    /// The flags, as the fleet takes them.
    private func fleetOptions() -> FleetRunner.Options {
        var options = FleetRunner.Options(schema: global.resolvedSchema)
        if current { options.scope = .current } else if !periods.isEmpty { options.scope = .periods(periods) }
        options.settle = settle.flatMap(parseDuration)
        options.deadline = deadline.flatMap(parseDuration)
        options.skipStudentDetails = skipStudentDetails
        options.dryRun = dryRun
        options.fullRefold = fullRefold
        options.reportPath = report
        options.format = format
        options.detailedExitCode = detailedExitcode
        options.freshWithin = freshWithin.flatMap(parseDuration)
        options.parallel = parallel
        options.backfill = backfill
        let backfillOptions = self.backfillOptions
        options.backfillOverrides = backfillOptions.overrides
        options.allowMassDelete = backfillOptions.allowMassDelete
        options.allowMassCreate = backfillOptions.allowMassCreate
        options.backfillReportPath = backfillOptions.backfillReport
        return options
    }
}

extension DriftReport.Format: ExpressibleByArgument {}
