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
    public struct Options: Sendable {
        public var schema: String
        public var tenant: String
        public var scope: ReconcileScope
        /// Changes newer than the run's start minus this are in flight, not drift.
        public var settle: Duration
        public var skipStudentDetails: Bool
        /// Everything but writing to the database.
        public var dryRun: Bool
        /// Where the report goes (`-` is stdout); `nil` writes none.
        public var reportPath: String?
        public var format: DriftReport.Format
        /// Called as rosters are read and students looked up.
        public var progress: (@Sendable (RunProgress) -> Void)?
        /// What cancelled the run, when it is cancelled (the CLI names the signal), for the
        /// `interrupted` record.
        public var interruption: (@Sendable () -> String?)?

        public init(
            schema: String, tenant: String, scope: ReconcileScope = .all, settle: Duration = .seconds(900),
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
        /// Enrollment id → period id, from this run's rosters.
        public var learnedPeriods: [Int: Int]
        public var seconds: Double
        public var summary: String { RunSummary.line(run, seconds: seconds) }
    }

    public var options: Options
    public var logger: Logger

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
        try Migrator(schema: options.schema, logger: logger).requireUpToDate(connection)
        guard let lock = try RunLock.acquire(schema: options.schema, tenant: options.tenant, connection: lockConnection) else {
            throw ReconcileError.locked(tenant: options.tenant)
        }
        defer { lock.release() }
        if !options.dryRun {
            let abandoned = try store.abandonUnfinished(tenant: options.tenant, on: connection)
            if abandoned > 0 { logger.warning("earlier runs never finished; marked abandoned", metadata: ["runs": "\(abandoned)"]) }
        }
        let runID = options.dryRun ? 0 : try store.start(
            tenant: options.tenant, scope: options.scope.key, options: optionsJSON(), on: connection
        )
        let logger = self.logger
        do {
            var outcome = try await RunContext.$runID.withValue(runID) {
                try await RunContext.$tenant.withValue(options.tenant) {
                    try await reconcile(runID: runID, connection: connection, client: client, store: store, now: now, logger: logger)
                }
            }
            // Cancelled (a signal) after the last read: still interrupted, never half-recorded.
            try Task.checkCancellation()
            if !options.dryRun {
                try store.finish(outcome.run, items: outcome.items, skipped: outcome.skipped, periods: outcome.periods,
                                 learnedPeriods: outcome.learnedPeriods, on: connection)
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
                let failure = interrupted ? "interrupted by \(options.interruption?() ?? "cancellation")" : "\(error)"
                do { try store.fail(runID: runID, error: failure, status: status, on: connection) } catch {
                    try? store.fail(runID: runID, error: failure, status: status, on: lockConnection)
                }
            }
            if interrupted { throw ReconcileError.interrupted(runID: runID) }
            throw error
        }
    }

    private func reconcile(
        runID: Int64, connection: Connection, client: DreamClassClient, store: RunStore, now: Date, logger: Logger
    ) async throws -> Outcome {
        // The rosters are read while the events are folded, in enrollment order: as each
        // enrollment's last event goes by and its roster row is in, a drifted one's student is
        // looked up at once, so the GetStudent calls overlap the fold instead of following it. The
        // fold runs on `Blocking`'s threads (libpq blocks), leaving the cooperative threads to the
        // HTTP answers.
        let index = RosterIndex()
        async let remote = readRemote(client: client, today: String(Timestamp.format(now).prefix(10)), index: index, logger: logger)
        let lookups = options.skipStudentDetails ? nil : StudentLookups(client: client, logger: logger, progress: options.progress)
        async let lookedUp = lookups?.run() ?? [:]
        let (schema, tenant) = (options.schema, options.tenant)
        let local = try await Blocking.run {
            try LocalEventReader(schema: schema).read(tenant: tenant, from: connection, settled: lookups.map { lookups in
                { id, state in if let student = Self.driftedStudent(state, remote: index.row(id)) { lookups.request(student) } }
            })
        }
        let (school, inScope, reads) = try await remote
        logger.info("events folded", metadata: ["events": "\(local.fold.eventsFolded)", "enrollments": "\(local.fold.states.count)"])
        let roster = RemoteRoster(periods: inScope, reads: reads, scopeIsAllPeriods: options.scope == .all)
        let known = try store.knownPeriods(tenant: options.tenant, on: connection)
        var result = Reconciler(settleCutoff: now.addingTimeInterval(-options.settle.seconds))
            .reconcile(local: local.fold.states, roster: roster, knownPeriods: known)
        // A delete is claimed only when a second read, started after the first ended, agrees.
        var confirmFailures: [Int: String] = [:]
        let toConfirm = Reconciler.periodsToConfirm(result, roster: roster)
        if !toConfirm.isEmpty {
            let second = await readRosters(toConfirm, client: client, index: nil, logger: logger)
            result = Reconciler.confirmDeletes(result, confirming: RemoteRoster(periods: toConfirm, reads: second, scopeIsAllPeriods: false))
            for (id, read) in second { if case .failed(let reason) = read { confirmFailures[id] = "confirming read: \(reason)" } }
        }

        let previous = try store.previousComplete(tenant: options.tenant, scope: options.scope.key, before: options.dryRun ? nil : runID, on: connection)
        let wanted = Set(result.items.compactMap(\.studentID))
        lookups?.finish(with: wanted)
        let students = await lookedUp.filter { wanted.contains($0.key) }
        let names = Dictionary((inScope + school).map { ($0.id, $0.name) }, uniquingKeysWith: { $1 ?? $0 })

        var record = RunRecord(runID: runID, tenant: options.tenant, scope: options.scope.key, startedAt: now)
        let items = result.items.map { item -> StoredDriftItem in
            let earlier = previous?.items[item.enrollmentID]
            let firstSeen = earlier?.kind == item.kind.rawValue ? earlier!.firstSeenRun : runID
            if firstSeen == runID { record.newItems += 1 } else { record.persistingItems += 1 }
            return stored(item, runID: runID, periodName: item.periodID.flatMap { names[$0] ?? nil }, student: item.studentID.flatMap { students[$0] }, firstSeen: firstSeen)
        }
        record.resolvedItems = previous?.items.keys.filter { result.agreed.contains($0) }.count ?? 0
        record.missedCreates = result.count(.missedCreate)
        record.missedUpdates = result.count(.missedUpdate)
        record.missedDeletes = result.count(.missedDelete)
        record.staleDeletes = result.count(.staleDelete)
        record.inSync = result.inSync
        record.inFlight = result.inFlight
        record.unverified = result.unverified
        record.outOfScope = result.outOfScope
        record.changedDuringRun = result.changedDuringRun
        record.periodsTotal = inScope.count
        var failures = confirmFailures
        for period in roster.failedPeriods {
            if case .failed(let reason) = reads[period.id] { failures[period.id] = reason } else { failures[period.id] = "not read" }
        }
        record.periodsFailed = failures.count
        record.remoteEnrollments = result.remoteEnrollments
        record.eventsRead = local.fold.eventsFolded + local.unusable.count + local.unsigned.count + local.otherEvents
        record.eventsSkipped = local.otherEvents
        record.eventsUnusable = local.unusable.count
        record.eventsUnsigned = local.unsigned.count
        let calls = client.statistics.snapshot
        record.apiCalls = calls.totalCalls
        record.apiRetries = calls.retries
        record.rosterRereads = calls.rereads
        record.status = !failures.isEmpty ? .incomplete : items.isEmpty ? .ok : .drift
        if !failures.isEmpty {
            record.error = failures.sorted { $0.key < $1.key }.map { "period \($0.key): \($0.value)" }.joined(separator: "; ")
        }
        let periodRecords = inScope.map { period -> PeriodReadRecord in
            if let failure = confirmFailures[period.id] {
                return PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: failure)
            }
            return switch reads[period.id] {
            case .complete(let rows)?: PeriodReadRecord(periodID: period.id, name: period.name, readOK: true, enrollments: rows.count, error: nil)
            case .failed(let reason)?: PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: reason)
            case nil: PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: "not read")
            }
        }
        return Outcome(run: record, items: items, periods: periodRecords, skipped: local.unusable + local.unsigned,
                       learnedPeriods: result.learnedPeriods, seconds: 0)
    }

    /// The school's periods, the ones in scope, and their rosters. Ids asked for that the school
    /// does not have count as periods that could not be read.
    private func readRemote(client: DreamClassClient, today: String, index: RosterIndex, logger: Logger) async throws -> ([Period], [Period], [Int: RemoteRoster.Read]) {
        let school = try await client.periods()
        let (periods, unknown) = options.scope.select(from: school, today: today)
        var reads = await readRosters(periods, client: client, index: index, logger: logger)
        var inScope = periods
        for id in unknown {
            reads[id] = .failed("period \(id) is not in the school's period list")
            inScope.append(Period(id: id))
        }
        return (school, inScope, reads)
    }

    /// Every period's roster, at once: the client bounds the requests in flight. The rows go
    /// into `index`, with progress, when given (the first read, not the confirming one).
    private func readRosters(_ periods: [Period], client: DreamClassClient, index: RosterIndex?, logger: Logger) async -> [Int: RemoteRoster.Read] {
        await withTaskGroup(of: (Int, RemoteRoster.Read).self) { group in
            for period in periods {
                group.addTask {
                    do {
                        return (period.id, .complete(try await client.periodStudents(periodId: period.id)))
                    } catch {
                        logger.warning("period roster could not be read; its enrollments are not diffed", metadata: [
                            "period": "\(period.id)", "error": "\(error)",
                        ])
                        return (period.id, .failed("\(error)"))
                    }
                }
            }
            var reads: [Int: RemoteRoster.Read] = [:]
            var progress = RunProgress()
            progress.periodsTotal = periods.count
            for await (id, read) in group {
                reads[id] = read
                guard let index else { continue }
                if case .complete(let rows) = read { index.add(rows) }
                progress.periodsRead += 1
                options.progress?(progress)
            }
            return reads
        }
    }

    /// The student to look up early when an enrollment's local state, now final, differs from
    /// DreamClass's row. A guess only: the classification at the end decides, and asks for any
    /// student missed here (creates, deletes).
    static func driftedStudent(_ state: EventFold.State, remote: Enrollment?) -> Int? {
        guard let remote else { return nil }
        guard let local = state.record, let row = EnrollmentRecord(remote) else { return remote.studentId }
        return local.changedFields(comparedWith: row).isEmpty ? nil : remote.studentId
    }

    private func stored(_ item: DriftItem, runID: Int64, periodName: String?, student: StudentLookup?, firstSeen: Int64) -> StoredDriftItem {
        var row = StoredDriftItem(runID: runID, kind: item.kind.rawValue, studentPeriodID: item.enrollmentID, firstSeenRun: firstSeen)
        row.periodID = item.periodID
        row.periodName = periodName
        row.studentID = item.studentID
        switch student {
        case .found(let found)?:
            row.studentName = found.fullName
            row.studentEmail = found.email
            row.studentStatus = found.status
        case .notFound?:
            row.studentStatus = "not_found"
        case nil:
            break
        }
        row.changedFields = item.changedFields.joined(separator: ";")
        row.localStudentID = item.local?.studentID
        row.localActive = item.local?.active
        row.localAddedAt = item.local?.addedAt
        row.remoteStudentID = item.remote?.studentID
        row.remoteActive = item.remote?.active
        row.remoteAddedAt = item.remote?.addedAt
        row.lastEventID = item.lastEvent?.eventID
        row.lastEventType = item.lastEvent?.kind.eventType
        row.lastEventAt = item.lastEvent.map { Date(timeIntervalSince1970: Double($0.timeMillis) / 1000) }
        return row
    }

    private func optionsJSON() -> String {
        var options: [String: Any] = [
            "settle_seconds": Int(self.options.settle.seconds), "skip_student_details": self.options.skipStudentDetails,
        ]
        if case .periods(let ids) = self.options.scope { options["periods"] = ids.sorted() }
        let data = (try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
