import DreamClassAPI
import EventStore
import FileOutput
import Foundation
import Logging
import Models
import Postgres
import Reconciliation
import Reports

/// The product's main job: fold the stored events, read the rosters, classify the drift, record
/// the run, write the report.
public struct ReconcileJob: Sendable {
    /// What a run is asked to do: which tenant and periods, the settle window, the report.
    public struct Options: Sendable {
        public var schema: String
        public var tenant: String
        public var scope: ReconcileScope
        /// Changes newer than the run's start minus this are in flight, not drift.
        public var settle: Duration
        public var skipStudentDetails: Bool
        /// Fold every stored event, not only those since the kept horizon, and replace the kept state.
        public var fullRefold = false
        /// Skip the tenant (``ReconcileError/fresh(tenant:runID:finishedAt:)``) when its last complete
        /// run finished within this: checked under the tenant's lock, so a fleet of workers runs
        /// each school once.
        public var freshWithin: Duration?
        /// Everything but writing to the database.
        public var dryRun: Bool
        /// When the run's missed creates are suspect (``Outcome/suspectedCreates``).
        public var createGuard: CreateGuard = .default
        /// Where the report goes (`-` is stdout); `nil` writes none.
        public var reportPath: String?
        public var format: DriftReport.Format
        /// Called as rosters are read and students looked up.
        public var progress: (@Sendable (RunProgress) -> Void)?
        /// What cancelled the run, when it is cancelled (the CLI names the signal), for the
        /// `interrupted` record.
        public var interruption: (@Sendable () -> String?)?
        /// Takes the secrets out of an error before it is stored in the run's record (the CLI
        /// passes its one redaction of every secret it knows).
        public var redact: @Sendable (String) -> String = { $0 }

        public init(
            schema: String, tenant: String, scope: ReconcileScope = .all, settle: Duration = Reconciler.defaultSettle,
            skipStudentDetails: Bool = false, dryRun: Bool = false, reportPath: String? = nil, format: DriftReport.Format = .csv
        ) {
            self.schema = schema
            self.tenant = tenant
            self.scope = scope
            self.settle = settle
            self.skipStudentDetails = skipStudentDetails
            self.dryRun = dryRun
            self.reportPath = reportPath
            self.format = format
        }
    }

    /// What a run found.
    public struct Outcome: Sendable {
        /// Run id 0 for a dry run, which records nothing.
        public var run: RunRecord
        public var items: [StoredDriftItem]
        public var periods: [PeriodReadRecord]
        public var skipped: [LocalEventReader.Skipped]
        /// The fold to keep for the next run.
        public var foldState: FoldStateStore.Update?
        /// How long reading and folding the stored events took.
        public var foldSeconds: Double
        /// Why the missed creates look like a wrong tenant or a receiver that stores nothing,
        /// when they do: the run is recorded, and the CLI exits with the configuration code.
        public var suspectedCreates: CreateGuard.Suspicion?
        public var seconds: Double
        public var summary: String { RunSummary.line(run, seconds: seconds) }
    }

    public var options: Options
    public var logger: Logger

    /// How long past its deadline a run may take to record that it failed.
    public static let recordingGrace: Duration = .seconds(5)

    public init(options: Options, logger: Logger = Logger(label: "reconcile")) {
        self.options = options
        self.logger = logger
    }

    /// Runs once.
    ///
    /// - Parameters:
    ///   - connection: for reading events and writing the run.
    ///   - lockConnection: holds the tenant's advisory lock for the length of the run.
    ///   - now: the run's start, which the settle window counts back from.
    public func run(connection: Connection, lockConnection: Connection, client: DreamClassClient, now: Date = Date()) async throws -> Outcome {
        let clock = ContinuousClock.now
        let store = RunStore(schema: options.schema)
        let (options, logger) = (self.options, self.logger)
        let (lock, runID, expected) = try await Blocking.run {
            try Migrator(schema: options.schema, logger: logger).requireUpToDate(connection)
            guard let lock = try RunLock.acquire(schema: options.schema, tenant: options.tenant, connection: lockConnection) else {
                throw ReconcileError.locked(tenant: options.tenant)
            }
            do {
                if let within = options.freshWithin, let last = try store.lastComplete(tenant: options.tenant, scope: options.scope.key, on: connection),
                    Fleet.isFresh(finishedAt: last.finishedAt, now: now, within: within)
                {
                    throw ReconcileError.fresh(tenant: options.tenant, runID: last.runID, finishedAt: last.finishedAt)
                }
                if !options.dryRun {
                    let abandoned = try store.abandonUnfinished(tenant: options.tenant, on: connection)
                    if abandoned > 0 { logger.warning("earlier runs never finished; marked abandoned", metadata: ["runs": "\(abandoned)"]) }
                }
                let runID = options.dryRun ? 0 : try store.start(
                    tenant: options.tenant, scope: options.scope.key, options: Self.optionsJSON(options), on: connection
                )
                return (lock, runID, try store.periodsLastRead(tenant: options.tenant, scope: options.scope.key, on: connection))
            } catch {
                lock.release()
                throw error
            }
        }
        defer { lock.release() }
        do {
            var outcome = try await RunContext.$runID.withValue(runID) {
                try await RunContext.$tenant.withValue(options.tenant) {
                    try await reconcile(runID: runID, expected: expected, connection: connection, client: client, store: store, now: now, logger: logger)
                }
            }
            // Cancelled (a signal) after the last read: still interrupted, never half-recorded.
            try Task.checkCancellation()
            if !options.dryRun {
                try await Blocking.run { [outcome] in
                    try store.finish(outcome.run, items: outcome.items, skipped: outcome.skipped, periods: outcome.periods, lock: lock, on: connection)
                }
            }
            if let path = options.reportPath {
                try OutputFile.write(DriftReport.render(outcome.items, tenant: options.tenant, format: options.format), to: path)
            }
            outcome.seconds = (ContinuousClock.now - clock).seconds
            return outcome
        } catch {
            let interrupted = Task.isCancelled
            if !options.dryRun {
                // The run's own connection may be what broke: the lock's connection writes it then.
                let status: RunRecord.Status = interrupted ? .interrupted : .failed
                let failure = options.redact(interrupted ? "interrupted by \(options.interruption?() ?? "cancellation")" : "\(error)")
                _ = try? await Blocking.runEvenIfCancelled {
                    // A run stopped by its deadline still records why, in a few seconds' grace.
                    for each in [connection, lockConnection] { each.extendDeadline(by: Self.recordingGrace) }
                    // What the run staged is dropped with it.
                    connection.rollback()
                    do { try store.fail(runID: runID, error: failure, status: status, on: connection) } catch {
                        try store.fail(runID: runID, error: failure, status: status, on: lockConnection)
                    }
                }
            }
            if interrupted { throw ReconcileError.interrupted(runID: runID) }
            throw error
        }
    }

    private func reconcile(
        runID: Int64, expected: [Int], connection: Connection, client: DreamClassClient, store: RunStore, now: Date, logger: Logger
    ) async throws -> Outcome {
        // The rosters are read while the events are folded. A drifted enrollment's student is
        // looked up as soon as both sides of it are in (a full fold reads in enrollment order and
        // settles each as its last event goes by), so the GetStudent calls overlap the fold and
        // the reads instead of following them. The fold runs on `Blocking`'s threads (libpq
        // blocks), leaving the cooperative threads to the HTTP answers.
        let lookups = options.skipStudentDetails ? nil : StudentLookups(client: client, logger: logger, progress: options.progress)
        let early = lookups.map(EarlyLookups.init)
        async let remote = readRemote(client: client, today: String(Timestamp.format(now).prefix(10)), expected: expected, early: early, logger: logger)
        async let lookedUp = lookups?.run() ?? [:]
        let (schema, tenant, refold) = (options.schema, options.tenant, options.fullRefold)
        let foldStart = ContinuousClock.now
        let local = try await Blocking.run {
            try LocalEventReader(schema: schema).read(tenant: tenant, from: connection, refold: refold, settled: early.map { $0.settled })
        }
        early?.foldFinished(local.fold.states)
        let foldSeconds = (ContinuousClock.now - foldStart).seconds
        let (known, previous) = try await Blocking.run { [options] in
            (try store.knownPeriods(tenant: tenant, on: connection),
             try store.previousComplete(tenant: tenant, scope: options.scope.key, before: options.dryRun ? nil : runID, on: connection))
        }
        // The kept fold is written while the rosters and students are still being read, in the
        // transaction that will record the run (the connection is not used for anything else
        // until then); a run that fails rolls it back.
        let foldState = local.update(tenant: tenant)
        async let staged: Void = options.dryRun ? () : Blocking.run { try store.stage(foldState, runID: runID, on: connection) }
        let (school, inScope, reads) = try await remote
        logger.info("events folded", metadata: [
            "events": "\(local.eventsRead)", "enrollments": "\(local.fold.states.count)",
            "fold": "\(local.previousHorizon == nil ? "full" : "incremental")",
        ])
        let roster = RemoteRoster(periods: inScope, reads: reads, scopeIsAllPeriods: options.scope == .all)
        var result = Reconciler(settleCutoff: now.addingTimeInterval(-options.settle.seconds))
            .reconcile(local: local.fold.states, roster: roster, knownPeriods: known)
        // A delete is claimed only when a second read, started after the first ended, agrees.
        var confirmFailures: [Int: String] = [:]
        var confirmedWhole: Set<Int> = []
        let toConfirm = Reconciler.periodsToConfirm(result, roster: roster)
        if !toConfirm.isEmpty {
            // The candidates' students are looked up during the confirming read: if it clears
            // some, their answers are dropped below.
            for student in result.items.compactMap(\.studentID) { lookups?.request(student) }
            let second = await readRosters(toConfirm, client: client, logger: logger)
            result = Reconciler.confirmDeletes(result, confirming: RemoteRoster(periods: toConfirm, reads: second, scopeIsAllPeriods: false))
            for (id, read) in second {
                switch read {
                case .failed(let reason): confirmFailures[id] = "confirming read: \(reason)"
                case .complete: confirmedWhole.insert(id)
                }
            }
        }

        let wanted = Set(result.items.compactMap(\.studentID))
        lookups?.finish(with: wanted)
        // What the rosters taught (a first run: every enrollment) is written while the lookups run.
        try await staged
        let learned = RunAssembly.periodsToRecord(learned: result.learnedPeriods, known: known)
        async let periodsStaged: Void = options.dryRun ? () : Blocking.run { try store.stage(learnedPeriods: learned, tenant: tenant, on: connection) }
        let students = await lookedUp.filter { wanted.contains($0.key) }
        let names = Dictionary((inScope + school).compactMap { period in period.name.map { (period.id, $0) } }, uniquingKeysWith: { $1 })
        let calls = client.statistics.snapshot
        let assembled = RunAssembly.assemble(
            runID: runID, tenant: options.tenant, scope: options.scope, startedAt: now,
            result: result, roster: roster, confirmFailures: confirmFailures, confirmedWhole: confirmedWhole,
            previous: previous?.items, periodNames: names, students: students,
            events: .init(folded: local.eventsRead, unusable: local.unusable.count, unsigned: local.unsigned.count, other: local.otherEvents),
            calls: .init(calls: calls.totalCalls, retries: calls.retries, rereads: calls.rereads)
        )
        try await periodsStaged
        return Outcome(run: assembled.record, items: assembled.items, periods: assembled.periods, skipped: local.unusable + local.unsigned,
                       foldState: foldState, foldSeconds: foldSeconds,
                       suspectedCreates: options.createGuard.suspicion(
                           tenant: tenant, creates: assembled.record.missedCreates, roster: assembled.record.remoteEnrollments,
                           localEnrollments: local.fold.states.count),
                       seconds: 0)
    }

    /// What one of the remote reads brought.
    private enum Fetched: Sendable {
        case periods([Period])
        case roster(Int, RemoteRoster.Read)
    }

    /// The school's periods, the ones in scope, and their rosters. The rosters of the `expected`
    /// periods (those the last complete run read) are read beside the period list, not after it,
    /// which saves a round trip; a read of a period the list no longer has in scope is dropped,
    /// and the list's new periods are read when it comes. Ids asked for that the school does not
    /// have count as periods that could not be read.
    private func readRemote(
        client: DreamClassClient, today: String, expected: [Int], early: EarlyLookups?, logger: Logger
    ) async throws -> ([Period], [Period], [Int: RemoteRoster.Read]) {
        try await withThrowingTaskGroup(of: Fetched.self) { group in
            group.addTask { .periods(try await client.periods()) }
            for id in expected {
                group.addTask { .roster(id, await readRoster(id, client: client)) }
            }
            var school: [Period] = []
            var selected: (periods: [Period], unknown: [Int]) = ([], [])
            var inScope: Set<Int>?
            var waiting: [Int: RemoteRoster.Read] = [:]
            var reads: [Int: RemoteRoster.Read] = [:]
            var progress = RunProgress()
            // A read is handed on (to progress and the early lookups) only once the list says it is in scope.
            func deliver(_ id: Int, _ read: RemoteRoster.Read) {
                guard inScope!.contains(id) else { return }
                warnIfFailed(id, read, logger: logger)
                reads[id] = read
                if case .complete(let rows) = read { early?.arrived(rows) }
                progress.periodsRead += 1
                options.progress?(progress)
            }
            for try await fetched in group {
                switch fetched {
                case .periods(let periods):
                    school = periods
                    selected = options.scope.select(from: periods, today: today)
                    inScope = Set(selected.periods.map(\.id))
                    progress.periodsTotal = selected.periods.count
                    let started = Set(expected)
                    for period in selected.periods where !started.contains(period.id) {
                        group.addTask { .roster(period.id, await readRoster(period.id, client: client)) }
                    }
                    for (id, read) in waiting { deliver(id, read) }
                    waiting = [:]
                case .roster(let id, let read):
                    if inScope == nil { waiting[id] = read } else { deliver(id, read) }
                }
            }
            var periods = selected.periods
            for id in selected.unknown {
                reads[id] = .failed("period \(id) is not in the school's period list")
                periods.append(Period(id: id))
            }
            return (school, periods, reads)
        }
    }

    /// One period's roster; a failure is kept as the read's outcome, not thrown (nor logged: a
    /// read ahead of a period no longer in scope fails unseen).
    private func readRoster(_ id: Int, client: DreamClassClient) async -> RemoteRoster.Read {
        do {
            return .complete(try await client.periodStudents(periodId: id))
        } catch {
            return .failed("\(error)")
        }
    }

    private func warnIfFailed(_ id: Int, _ read: RemoteRoster.Read, logger: Logger) {
        guard case .failed(let reason) = read else { return }
        logger.warning("period roster could not be read; its enrollments are not diffed", metadata: ["period": "\(id)", "error": "\(reason)"])
    }

    /// The confirming read of `periods`' rosters, at once: the client bounds the requests in flight.
    private func readRosters(_ periods: [Period], client: DreamClassClient, logger: Logger) async -> [Int: RemoteRoster.Read] {
        await withTaskGroup(of: (Int, RemoteRoster.Read).self) { group in
            for period in periods {
                group.addTask { (period.id, await readRoster(period.id, client: client)) }
            }
            var reads: [Int: RemoteRoster.Read] = [:]
            for await (id, read) in group {
                warnIfFailed(id, read, logger: logger)
                reads[id] = read
            }
            return reads
        }
    }

    private static func optionsJSON(_ options: Options) -> String {
        var json: [String: Any] = [
            "settle_seconds": Int(options.settle.seconds), "skip_student_details": options.skipStudentDetails, "full_refold": options.fullRefold,
        ]
        if case .periods(let ids) = options.scope { json["periods"] = ids.sorted() }
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
