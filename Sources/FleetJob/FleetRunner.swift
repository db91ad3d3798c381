import DreamClassAPI
import Foundation
import Logging
import Models
import Postgres
import ReconcileJob
import Reconciliation
import Reports
import Settings

/// `run`: one school or many, `parallel` at a time. Each school is reconciled (and backfilled,
/// when its settings ask); one school's failure does not stop the others. With `freshWithin`, a
/// school another worker holds is tried again after the rest, until it is fresh (that worker ran
/// it) or free (that worker died or failed); a fresh school is skipped and left out of the results.
public struct FleetRunner: Sendable {
    /// What every school's run takes from the command line: each set value wins over the school's setting.
    public struct Options: Sendable {
        public var schema: String
        /// `--current` or `--period`: instead of the school's scope.
        public var scope: ReconcileScope?
        public var settle: Duration?
        public var deadline: Duration?
        public var skipStudentDetails = false
        public var dryRun = false
        public var fullRefold = false
        /// One report path for every school (`-` is stdout); `nil`: each school's report_dir.
        public var reportPath: String?
        public var format: DriftReport.Format = .csv
        public var detailedExitCode = false
        public var freshWithin: Duration?
        public var parallel = 2
        /// Also backfill every school (as well as those whose settings say `backfill: true`).
        public var backfill = false
        /// The backfill's flags over each school's settings.
        public var backfillOverrides = BackfillOverrides()
        public var allowMassDelete = false
        public var allowMassCreate = false
        /// Where each backfill's report goes; `nil`: the school's report_dir.
        public var backfillReportPath: String?
        /// How long a fleet waits before trying again the schools other workers held.
        public var retryPause: Duration = .milliseconds(500)

        public init(schema: String) { self.schema = schema }
    }

    /// How one school ended.
    public struct Result: Sendable {
        public var school: SchoolSettings
        public var code: Int32
        /// The run, when it was recorded (with what its backfill held).
        public var run: RunRecord?
        /// The run's status, or `failed` / `interrupted` when no run was recorded.
        public var status: RunRecord.Status
        public var finishedAt: Date
        public var seconds: Double
    }

    public var options: Options
    public var console: Console
    /// The signal that stopped the work, if one did.
    public var stop: @Sendable () -> Stop?
    /// A logger for a job (`run`, `backfill`).
    public var makeLogger: @Sendable (String) throws -> Logger
    public var connections: RunConnections
    public var environment: [String: String]

    public init(
        options: Options, console: Console, stop: @escaping @Sendable () -> Stop?, makeLogger: @escaping @Sendable (String) throws -> Logger,
        connections: RunConnections, environment: [String: String]
    ) {
        self.options = options
        self.console = console
        self.stop = stop
        self.makeLogger = makeLogger
        self.connections = connections
        self.environment = environment
    }

    /// Runs `schools`; returns each one's result (fresh schools left out), by tenant.
    public func run(_ schools: [SchoolSettings]) async -> [Result] {
        var results: [Result] = []
        var round = schools
        while !round.isEmpty, stop() == nil {
            var again: [SchoolSettings] = []
            await withTaskGroup(of: (Fleet.Attempt, Result).self) { group in
                var pending = round.makeIterator()
                func addNext() -> Bool {
                    guard let school = pending.next() else { return false }
                    let label = schools.count > 1 ? "[\(school.name)] " : ""
                    group.addTask { await runSchool(school, label: label) }
                    return true
                }
                for _ in 0..<max(1, options.parallel) where !addNext() { break }
                for await (attempt, result) in group {
                    switch attempt {
                    case .done: results.append(result)
                    case .fresh: break
                    case .claimedElsewhere: again.append(result.school)
                    }
                    _ = addNext()
                }
            }
            if !again.isEmpty { try? await Task.sleep(for: options.retryPause) }
            round = again
        }
        return results.sorted { $0.school.api.tenant < $1.school.api.tenant }
    }

    /// One school: the run, then the backfill when asked.
    func runSchool(_ school: SchoolSettings, label: String) async -> (Fleet.Attempt, Result) {
        let start = ContinuousClock.now
        let now = Date()
        let deadline = start + (options.deadline ?? school.deadline)
        var (code, run, attempt) = await reconcile(school, label: label, now: now, deadline: deadline)
        if school.backfill || options.backfill, !options.dryRun, var recorded = run, recorded.driftCount > 0, stop() == nil {
            do {
                let logger = try makeLogger("backfill")
                let connection = try await connections.take(logger: logger, deadline: deadline)
                var backfill = SchoolBackfill(school: options.backfillOverrides.applied(to: school), schema: options.schema)
                backfill.allowMassDelete = options.allowMassDelete
                backfill.allowMassCreate = options.allowMassCreate
                backfill.reportPath = options.backfillReportPath
                let (backfilled, outcome) = await backfill.run(
                    runID: recorded.runID, connection: connection.run, environment: environment, deadline: deadline, console: console,
                    stop: stop, logger: logger, label: label
                )
                await connections.give(connection)
                recorded.heldDeletes = outcome?.held(.missedDelete) ?? 0
                recorded.heldCreates = outcome?.held(.missedCreate) ?? 0
                run = recorded
                code = ExitStatus.worst([code, backfilled])
            } catch {
                console.error(label + "error: \(error)\n")
                code = ExitStatus.worst([code, ExitCodes.code(for: error, stop: stop())])
            }
        }
        let status = run?.status ?? (stop() != nil ? .interrupted : .failed)
        return (attempt, Result(school: school, code: code, run: run, status: status, finishedAt: Date(), seconds: (ContinuousClock.now - start).seconds))
    }

    /// Runs one reconciliation and prints its summary; returns the exit code, the run when it
    /// finished, and what to do with the school next.
    func reconcile(_ school: SchoolSettings, label: String, now: Date, deadline: ContinuousClock.Instant) async -> (Int32, RunRecord?, Fleet.Attempt) {
        var jobOptions = ReconcileJob.Options(
            schema: options.schema, tenant: school.api.tenant, scope: options.scope ?? school.scope,
            settle: options.settle ?? school.settle, skipStudentDetails: options.skipStudentDetails, dryRun: options.dryRun,
            reportPath: options.reportPath ?? DriftReport.defaultPath(in: school.reportDirectory, tenant: school.api.tenant, at: now, format: options.format),
            format: options.format
        )
        jobOptions.interruption = { [stop] in stop()?.name }
        jobOptions.redact = console.redact
        jobOptions.fullRefold = options.fullRefold
        jobOptions.freshWithin = options.freshWithin
        jobOptions.createGuard = school.createGuard
        let progress = console.runProgress()
        if let progress { jobOptions.progress = progress.update }
        defer { progress?.finish() }
        console.secret(school.api.apiKey)
        var client: DreamClassClient?
        do {
            let logger = try makeLogger("run")
            client = try DreamClassClient(configuration: school.api, deadline: deadline, logger: logger)
            let pair = try await connections.take(logger: logger, deadline: deadline)
            let outcome: ReconcileJob.Outcome
            do {
                outcome = try await ReconcileJob(options: jobOptions, logger: logger).run(connection: pair.run, lockConnection: pair.lock, client: client!, now: now)
            } catch {
                await connections.give(pair)
                throw error
            }
            await connections.give(pair)
            try await client?.shutdown()
            // With the report on stdout, the summary goes to stderr so the report stays clean.
            let toError = jobOptions.reportPath == "-"
            try console.write(label + outcome.summary + "\n", toError)
            if outcome.run.status == .incomplete {
                try console.write(label + "incomplete: \(outcome.run.error ?? "some periods could not be read"); their enrollments were not diffed\n", toError)
            }
            if let path = jobOptions.reportPath, path != "-" { try console.write(label + "report: \(path)\n", toError) }
            if options.dryRun { try console.write(label + "dry run: nothing was written to the database\n", toError) }
            let suspected = options.allowMassCreate ? nil : outcome.suspectedCreates
            if let suspected { console.error(label + "error: the missed creates are suspect: \(suspected)\n") }
            return (ExitStatus.of(outcome.run, detailed: options.detailedExitCode, suspectedCreates: suspected != nil), outcome.run, .done)
        } catch {
            try? await client?.shutdown()
            if case ReconcileError.fresh = error {
                try? console.write(label + "skipped: \(error)\n", false)
                return (ExitStatus.ok, nil, .fresh)
            }
            if case ReconcileError.locked = error, options.freshWithin != nil { return (ExitStatus.ok, nil, .claimedElsewhere) }
            console.error(label + "error: \(error)\n")
            return (ExitCodes.code(for: error, stop: stop()), nil, .done)
        }
    }
}
