import ArgumentParser
import Backfill
import DreamClassAPI
import EventStore
import FileOutput
import Foundation
import Models
import Monitoring
import Postgres
import ReconcileJob
import Reconciliation
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
        let schools = try selectSchools(environment: environment)
        let pingLogger = try global.makeLogger(label: "ping")
        let pinger = ping.map { HealthPing(url: $0, logger: pingLogger) }
        await pinger?.send(.start)
        let connections = RunConnections()
        let results = try await Interruption.run { await runAll(schools, environment: environment, connections: connections) }
        let worst = ExitStatus.worst(results.map(\.code))
        if let metricsFile {
            do { try MetricsFile.write(results.map(\.sample), to: metricsFile) } catch {
                printError("error: cannot write metrics to \(metricsFile): \(error)\n")
            }
        }
        if let metricsPush {
            // Not fatal, as the file's write is not: the run's own outcome is the exit code.
            do { try await MetricsPush(url: metricsPush).push(results.map(\.sample)) } catch { printError("error: \(error)\n") }
        }
        let lines = results.map { "\($0.sample.tenant): \($0.sample.status.rawValue)" + ($0.sample.run.map { " (run \($0.runID))" } ?? "") }
        await pinger?.send(worst == 0 || worst == 2 ? .success : .fail, body: lines.joined(separator: "\n"))
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The schools to run: the environment's one, or those of the --config file.
    private func selectSchools(environment: [String: String]) throws -> [SchoolSettings] {
        guard let path = global.resolvedConfigPath else {
            let api = try DreamClassConfiguration.fromEnvironment(environment)
            var settings = SchoolSettings(name: api.tenant, api: api)
            settings.backfill = backfill
            return [settings]
        }
        let file = try SettingsFile.load(path: path)
        for warning in file.warnings { printError("warning: \(warning)\n") }
        let names: [String]
        if allTenants {
            names = file.schoolNames
        } else if let school {
            names = [school]
        } else if file.schoolNames.count == 1 {
            names = file.schoolNames
        } else {
            throw ValidationError("\(path) has \(file.schoolNames.count) schools: name one with --school, or use --all-tenants")
        }
        return try names.map { name in
            var settings = try file.school(name, environment: environment)
            settings.backfill = settings.backfill || backfill
            return settings
        }
    }

    /// Runs the schools side by side, `--parallel` at a time; one school's failure does not stop the
    /// others. With `--fresh-within`, a school another worker holds is tried again after the rest,
    /// until it is fresh (that worker ran it) or free (that worker died or failed); a fresh school
    /// is skipped and left out of the results.
    private func runAll(
        _ schools: [SchoolSettings], environment: [String: String], connections: RunConnections
    ) async -> [(code: Int32, sample: MetricsFile.Sample)] {
        var results: [(code: Int32, sample: MetricsFile.Sample)] = []
        var round = schools
        while !round.isEmpty, Interruption.signal == nil {
            var again: [SchoolSettings] = []
            await withTaskGroup(of: (SchoolSettings, Fleet.Attempt, (Int32, MetricsFile.Sample)).self) { group in
                var pending = round.makeIterator()
                func addNext() -> Bool {
                    guard let settings = pending.next() else { return false }
                    let label = schools.count > 1 ? "[\(settings.name)] " : ""
                    group.addTask {
                        let start = ContinuousClock.now
                        var (code, run, attempt): (Int32, RunRecord?, Fleet.Attempt) = (1, nil, .done)
                        do { (code, run, attempt) = try await runSchool(settings, label: label, environment: environment, connections: connections) } catch {
                            printError("\(label)error: \(error)\n")
                            code = ExitCodes.code(for: error)
                        }
                        let status: RunRecord.Status = run?.status ?? (Interruption.signal != nil ? .interrupted : .failed)
                        return (settings, attempt, (code, MetricsFile.Sample(tenant: settings.api.tenant, status: status, finishedAt: Date(),
                                                                             seconds: (ContinuousClock.now - start).seconds, run: run)))
                    }
                    return true
                }
                for _ in 0..<max(1, parallel) where !addNext() { break }
                for await (settings, attempt, result) in group {
                    switch attempt {
                    case .done: results.append(result)
                    case .fresh: break
                    case .claimedElsewhere: again.append(settings)
                    }
                    _ = addNext()
                }
            }
            if !again.isEmpty { try? await Task.sleep(for: .milliseconds(500)) }
            round = again
        }
        return results.sorted { $0.sample.tenant < $1.sample.tenant }
    }

    /// One school: the run, then the backfill when asked. Flags win over the file's settings.
    private func runSchool(
        _ settings: SchoolSettings, label: String, environment: [String: String], connections: RunConnections
    ) async throws -> (Int32, RunRecord?, Fleet.Attempt) {
        let now = Date()
        let deadline = ContinuousClock.now + (self.deadline.flatMap(parseDuration) ?? settings.deadline)
        var scope = settings.scope
        if current { scope = .current } else if !periods.isEmpty { scope = .periods(periods) }
        let reportPath = report ?? DriftReport.defaultPath(in: settings.reportDirectory, tenant: settings.api.tenant, at: now, format: format)
        var options = ReconcileJob.Options(
            schema: global.resolvedSchema, tenant: settings.api.tenant, scope: scope,
            settle: settle.flatMap(parseDuration) ?? settings.settle, skipStudentDetails: skipStudentDetails, dryRun: dryRun,
            reportPath: reportPath, format: format
        )
        options.interruption = { Interruption.signal.map(\.description) }
        options.redact = { Secrets.redact($0) }
        options.fullRefold = fullRefold
        options.freshWithin = freshWithin.flatMap(parseDuration)
        options.createGuard = settings.createGuard
        var (code, run, attempt) = try await Self.reconcile(options: options, api: settings.api, global: global, now: now, deadline: deadline,
                                                   detailedExitcode: detailedExitcode, allowMassCreate: backfillOptions.allowMassCreate,
                                                   label: label, connections: connections)
        if settings.backfill, !dryRun, var recorded = run, recorded.driftCount > 0, Interruption.signal == nil {
            let connection = try await Blocking.run { [global] in try global.connect(logger: try global.makeLogger(label: "backfill")) }
            let (backfilled, outcome) = try await backfillOptions.backfill(
                runID: recorded.runID, school: backfillOptions.applied(to: settings), dryRun: false, global: global, connection: connection,
                environment: environment, deadline: deadline, label: label
            )
            recorded.heldDeletes = outcome?.held(.missedDelete) ?? 0
            recorded.heldCreates = outcome?.held(.missedCreate) ?? 0
            run = recorded
            code = ExitStatus.worst([code, backfilled])
        }
        return (code, run, attempt)
    }

    /// Runs one reconciliation and prints its summary; returns the exit code, and the run when it finished.
    static func reconcile(
        options: ReconcileJob.Options, api: DreamClassConfiguration, global: GlobalOptions, now: Date,
        deadline: ContinuousClock.Instant, detailedExitcode: Bool, allowMassCreate: Bool = false, label: String = "",
        connections: RunConnections = RunConnections()
    ) async throws -> (Int32, RunRecord?, Fleet.Attempt) {
        let logger = try global.makeLogger(label: "run")
        Secrets.register(api.apiKey)
        let client = try DreamClassClient(configuration: api, deadline: deadline, logger: logger)
        let progress = ProgressLine.makeIfTerminal()
        var options = options
        if let progress { options.progress = { progress.update($0) } }
        defer { progress?.finish() }
        do {
            let pair = try await connections.take(global, logger: logger, deadline: deadline)
            let outcome: ReconcileJob.Outcome
            do {
                outcome = try await ReconcileJob(options: options, logger: logger).run(connection: pair.run, lockConnection: pair.lock, client: client, now: now)
            } catch {
                await connections.give(pair)
                throw error
            }
            await connections.give(pair)
            try await client.shutdown()
            // With the report on stdout, the summary goes to stderr so the report stays clean.
            let out = options.reportPath == "-" ? StandardStream.error : StandardStream.output
            try out.write(label + outcome.summary + "\n")
            if outcome.run.status == .incomplete {
                try out.write(label + "incomplete: \(outcome.run.error ?? "some periods could not be read"); their enrollments were not diffed\n")
            }
            if let path = options.reportPath, path != "-" { try out.write(label + "report: \(path)\n") }
            if options.dryRun { try out.write(label + "dry run: nothing was written to the database\n") }
            let suspected = allowMassCreate ? nil : outcome.suspectedCreates
            if let suspected { printError(label + "error: the missed creates are suspect: \(suspected)\n") }
            return (ExitStatus.of(outcome.run, detailed: detailedExitcode, suspectedCreates: suspected != nil), outcome.run, .done)
        } catch {
            try? await client.shutdown()
            if case ReconcileError.fresh = error {
                StandardStream.output.attempt(label + "skipped: \(error)\n")
                return (ExitStatus.ok, nil, .fresh)
            }
            if case ReconcileError.locked = error, options.freshWithin != nil { return (ExitStatus.ok, nil, .claimedElsewhere) }
            printError(label + "error: \(error)\n")
            return (ExitCodes.code(for: error), nil, .done)
        }
    }
}

extension DriftReport.Format: ExpressibleByArgument {}
