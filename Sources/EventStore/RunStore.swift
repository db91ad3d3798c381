import Foundation
import Models
import Postgres

/// The history of runs: `reconcile_runs`, `drift_items`, `run_skipped_events`, `run_periods`,
/// and the enrollment → period map in `enrollment_periods`.
public struct RunStore: Sendable {
    public var schema: String
    private var s: String { quoteIdentifier(schema) }

    public init(schema: String) { self.schema = schema }

    /// Records a run as started; returns its id.
    public func start(tenant: String, scope: String, options: String, on connection: Connection) throws -> Int64 {
        try connection.query(
            "INSERT INTO \(s).reconcile_runs (tenant, scope, options) VALUES ($1, $2, $3::jsonb) RETURNING run_id",
            [tenant, scope, options]
        ).first!.decode(Int64.self, at: 0)
    }

    /// Enrollment id → period id, as learned by earlier runs.
    public func knownPeriods(tenant: String, on connection: Connection) throws -> [Int: Int] {
        var periods: [Int: Int] = [:]
        try connection.withSession { session in
            try session.stream("SELECT student_period_id, period_id FROM \(s).enrollment_periods WHERE tenant = $1", [tenant]) { row in
                let (enrollment, period) = try row.decode(Int.self, Int.self)
                periods[enrollment] = period
            }
        }
        return periods
    }

    /// The newest complete run (`ok` or `drift`) of the same tenant and scope, and its items by
    /// enrollment id.
    public func previousComplete(tenant: String, scope: String, before runID: Int64?, on connection: Connection) throws -> (runID: Int64, items: [Int: StoredDriftItem])? {
        guard let previous = try connection.query(
            """
            SELECT run_id FROM \(s).reconcile_runs
            WHERE tenant = $1 AND scope = $2 AND status IN ('ok', 'drift') AND ($3::bigint IS NULL OR run_id < $3)
            ORDER BY run_id DESC LIMIT 1
            """, [tenant, scope, runID]
        ).first?.decode(Int64.self, at: 0) else { return nil }
        let items = try driftItems(runID: previous, on: connection)
        return (previous, Dictionary(items.map { ($0.studentPeriodID, $0) }, uniquingKeysWith: { $1 }))
    }

    /// The periods the newest complete run of the same tenant and scope read: this run's likely
    /// rosters, which it starts reading before the school's period list is in.
    public func periodsLastRead(tenant: String, scope: String, on connection: Connection) throws -> [Int] {
        try connection.query("""
            SELECT period_id FROM \(s).run_periods WHERE run_id = (
                SELECT run_id FROM \(s).reconcile_runs
                WHERE tenant = $1 AND scope = $2 AND status IN ('ok', 'drift') ORDER BY run_id DESC LIMIT 1
            ) ORDER BY period_id
            """, [tenant, scope]).rows.map { try $0.decode(Int.self, at: 0) }
    }

    /// When the tenant's last complete run (ok or drift) of `scope` finished, and its id; `nil` when none did.
    public func lastComplete(tenant: String, scope: String, on connection: Connection) throws -> (runID: Int64, finishedAt: Date)? {
        guard let row = try connection.query("""
            SELECT run_id, finished_at FROM \(s).reconcile_runs
            WHERE tenant = $1 AND scope = $2 AND status IN ('ok', 'drift') ORDER BY finished_at DESC LIMIT 1
            """, [tenant, scope]).first else { return nil }
        return (try row.decode(Int64.self, at: 0), try row.decode(Date.self, at: 1))
    }

    /// Begins the transaction that will record the run, and writes the kept fold into it now,
    /// while the run still waits on its lookups: the fold goes with the run that read it (both
    /// commit in ``finish(_:items:skipped:periods:lock:on:)``, or neither), and that commit stays
    /// short. Until then every statement on `connection` is part of it; a run that fails calls
    /// `connection.rollback()`.
    public func stage(_ foldState: FoldStateStore.Update, runID: Int64, on connection: Connection) throws {
        try staging(on: connection) { try FoldStateStore(schema: schema).save(foldState, runID: runID, on: $0) }
    }

    /// Writes into the run's transaction (begun by ``stage(_:runID:on:)``, or now) the
    /// enrollment → period map this run learned: the enrollments the store did not know, or knew
    /// in another period. A first run learns every enrollment of the school (100,000 rows took
    /// 0.5 s to write), so this too is done while the lookups are still running, not at the commit.
    public func stage(learnedPeriods: [Int: Int], tenant: String, on connection: Connection) throws {
        guard !learnedPeriods.isEmpty else { return }
        try staging(on: connection) { session in
            try session.execute("CREATE TEMPORARY TABLE IF NOT EXISTS learned_periods (student_period_id bigint, period_id bigint) ON COMMIT DELETE ROWS")
            try session.copyIn("COPY pg_temp.learned_periods (student_period_id, period_id) FROM STDIN") { writer in
                for (enrollment, period) in learnedPeriods { try writer.row([enrollment, period]) }
            }
            try session.execute("""
                INSERT INTO \(s).enrollment_periods (tenant, student_period_id, period_id)
                SELECT $1, student_period_id, period_id FROM pg_temp.learned_periods
                ON CONFLICT (tenant, student_period_id) DO UPDATE SET period_id = excluded.period_id, seen_at = now()
                """, [tenant])
        }
    }

    private func staging(on connection: Connection, _ body: (Session) throws -> Void) throws {
        if !connection.inTransaction { try connection.begin() }
        do {
            try connection.withSession(body)
        } catch {
            connection.rollback()
            throw error
        }
    }

    /// Writes a finished run whole, in one transaction (the one the staging began, if it did):
    /// its items, skipped events, period reads, and last its counts and status. Until that
    /// commits, the run stays `running` and is never taken as complete.
    public func finish(
        _ record: RunRecord, items: [StoredDriftItem], skipped: [LocalEventReader.Skipped], periods: [PeriodReadRecord],
        lock: RunLock? = nil, on connection: Connection
    ) throws {
        try connection.commit { session in
            // A run that lost its lock may share its school with another: it records nothing.
            if let lock, try !lock.stillHeld(on: session) { throw RunLockLost(tenant: record.tenant, runID: record.runID) }
            if !items.isEmpty {
                try session.copyIn("""
                    COPY \(s).drift_items (run_id, student_period_id, kind, period_id, period_name, student_id, student_name,
                        student_email, student_status, changed_fields, local_student_id, local_active, local_added_at,
                        remote_student_id, remote_active, remote_added_at, last_event_id, last_event_type, last_event_at,
                        first_seen_run, in_first_read, in_confirming_read) FROM STDIN
                    """) { writer in
                    for item in items {
                        try writer.row([
                            record.runID, item.studentPeriodID, item.kind, item.periodID, item.periodName, item.studentID,
                            item.studentName, item.studentEmail, item.studentStatus, item.changedFields, item.localStudentID,
                            item.localActive, item.localAddedAt, item.remoteStudentID, item.remoteActive, item.remoteAddedAt,
                            item.lastEventID, item.lastEventType, item.lastEventAt, item.firstSeenRun, item.inFirstRead,
                            item.inConfirmingRead,
                        ])
                    }
                }
            }
            if !skipped.isEmpty {
                try session.copyIn("COPY \(s).run_skipped_events (run_id, event_id, reason) FROM STDIN") { writer in
                    for event in skipped { try writer.row([record.runID, event.eventID, event.reason]) }
                }
            }
            if !periods.isEmpty {
                try session.copyIn("COPY \(s).run_periods (run_id, period_id, period_name, read_ok, enrollments, error, confirming_read) FROM STDIN") { writer in
                    for period in periods {
                        try writer.row([record.runID, period.periodID, period.name, period.readOK, period.enrollments, period.error, period.confirmingRead])
                    }
                }
            }
            try session.execute("""
                UPDATE \(s).reconcile_runs SET finished_at = now(), status = $2, missed_creates = $3, missed_updates = $4,
                    missed_deletes = $5, stale_deletes = $6, new_items = $7, persisting_items = $8, resolved_items = $9,
                    in_sync = $10, in_flight = $11, unverified = $12, out_of_scope = $13, periods_total = $14,
                    periods_failed = $15, remote_enrollments = $16, events_read = $17, events_skipped = $18,
                    events_unusable = $19, events_unsigned = $20, api_calls = $21, api_retries = $22, error = $23,
                    roster_rereads = $24, changed_during_run = $25
                WHERE run_id = $1
                """, [
                    record.runID, record.status.rawValue, record.missedCreates, record.missedUpdates, record.missedDeletes,
                    record.staleDeletes, record.newItems, record.persistingItems, record.resolvedItems, record.inSync,
                    record.inFlight, record.unverified, record.outOfScope, record.periodsTotal, record.periodsFailed,
                    record.remoteEnrollments, record.eventsRead, record.eventsSkipped, record.eventsUnusable,
                    record.eventsUnsigned, record.apiCalls, record.apiRetries, record.error, record.rosterRereads,
                    record.changedDuringRun,
                ])
        }
    }

    /// Marks a run failed (or `interrupted`), with what stopped it.
    public func fail(runID: Int64, error: String, status: RunRecord.Status = .failed, on connection: Connection) throws {
        try connection.execute(
            "UPDATE \(s).reconcile_runs SET status = $3, finished_at = now(), error = $2 WHERE run_id = $1 AND status = 'running'",
            [runID, error, status.rawValue]
        )
    }

    /// Marks the tenant's runs still `running` as `abandoned`. Call only while holding the
    /// tenant's run lock: then no process is running them. Returns how many there were.
    @discardableResult
    public func abandonUnfinished(tenant: String, on connection: Connection) throws -> Int {
        try connection.execute("""
            UPDATE \(s).reconcile_runs SET status = 'abandoned', finished_at = now(),
                error = 'its process ended without finishing it (killed, or its host lost); found by the next run'
            WHERE tenant = $1 AND status = 'running'
            """, [tenant])
    }

    /// One run's record, or `nil` when there is no such run.
    public func run(_ runID: Int64, on connection: Connection) throws -> RunRecord? {
        try runs(where: "run_id = $1", [runID], limit: 1, on: connection).first
    }

    /// The newest runs, of one tenant or all.
    public func recentRuns(tenant: String?, limit: Int, on connection: Connection) throws -> [RunRecord] {
        try runs(where: "($1::text IS NULL OR tenant = $1)", [tenant], limit: limit, on: connection)
    }

    private func runs(where condition: String, _ parameters: [(any PostgresEncodable)?], limit: Int, on connection: Connection) throws -> [RunRecord] {
        try connection.query("""
            SELECT run_id, tenant, scope, started_at, finished_at, status, missed_creates, missed_updates, missed_deletes,
                stale_deletes, new_items, persisting_items, resolved_items, in_sync, in_flight, unverified, out_of_scope,
                periods_total, periods_failed, remote_enrollments, events_read, events_skipped, events_unusable,
                events_unsigned, api_calls, api_retries, error, roster_rereads, changed_during_run, held_deletes, held_creates
            FROM \(s).reconcile_runs WHERE \(condition) ORDER BY run_id DESC LIMIT $\(parameters.count + 1)
            """, parameters + [max(1, limit)]).rows.map { row in
            var record = RunRecord(
                runID: try row.decode(at: 0), tenant: try row.decode(at: 1), scope: try row.decode(at: 2),
                startedAt: try row.decode(at: 3), status: RunRecord.Status(rawValue: try row.decode(at: 5)) ?? .failed
            )
            record.finishedAt = try row.decodeIfPresent(at: 4)
            let counts: [WritableKeyPath<RunRecord, Int>] = [
                \.missedCreates, \.missedUpdates, \.missedDeletes, \.staleDeletes, \.newItems, \.persistingItems,
                \.resolvedItems, \.inSync, \.inFlight, \.unverified, \.outOfScope, \.periodsTotal, \.periodsFailed,
                \.remoteEnrollments, \.eventsRead, \.eventsSkipped, \.eventsUnusable, \.eventsUnsigned, \.apiCalls, \.apiRetries,
            ]
            for (offset, path) in counts.enumerated() { record[keyPath: path] = try row.decode(Int.self, at: 6 + offset) }
            record.error = try row.decodeIfPresent(at: 26)
            record.rosterRereads = try row.decode(at: 27)
            record.changedDuringRun = try row.decode(at: 28)
            record.heldDeletes = try row.decode(at: 29)
            record.heldCreates = try row.decode(at: 30)
            return record
        }
    }

    /// What a backfill decided for one drift item.
    public struct BackfillDecision: Sendable {
        public var studentPeriodID: Int
        public var decision: String
        public var reason: String?
        public var eventID: UUID

        public init(studentPeriodID: Int, decision: String, reason: String?, eventID: UUID) {
            self.studentPeriodID = studentPeriodID
            self.decision = decision
            self.reason = reason
            self.eventID = eventID
        }
    }

    /// Records what the latest backfill of the run held back, and its decision for each drift
    /// item, in one transaction (one statement per table, the items as arrays).
    public func recordBackfill(runID: Int64, heldDeletes: Int, heldCreates: Int, decisions: [BackfillDecision], on connection: Connection) throws {
        try connection.transaction { session in
            try session.execute("UPDATE \(s).reconcile_runs SET held_deletes = $2, held_creates = $3 WHERE run_id = $1", [runID, heldDeletes, heldCreates])
            guard !decisions.isEmpty else { return }
            try session.execute("""
                UPDATE \(s).drift_items d SET backfill_decision = u.decision, backfill_reason = u.reason, backfill_event_id = u.event_id
                FROM unnest($2::bigint[], $3::text[], $4::text[], $5::uuid[]) AS u(student_period_id, decision, reason, event_id)
                WHERE d.run_id = $1 AND d.student_period_id = u.student_period_id
                """, [runID, PostgresArray(decisions.map(\.studentPeriodID)), PostgresArray(decisions.map(\.decision)),
                      PostgresArray(decisions.map(\.reason)), PostgresArray(decisions.map(\.eventID))])
        }
    }

    /// How each period's roster read went in a run.
    public func periodReads(runID: Int64, on connection: Connection) throws -> [PeriodReadRecord] {
        try connection.query(
            "SELECT period_id, period_name, read_ok, enrollments, error, confirming_read FROM \(s).run_periods WHERE run_id = $1 ORDER BY period_id", [runID]
        ).rows.map {
            PeriodReadRecord(periodID: try $0.decode(at: 0), name: try $0.decodeIfPresent(at: 1), readOK: try $0.decode(at: 2),
                             enrollments: try $0.decodeIfPresent(at: 3), error: try $0.decodeIfPresent(at: 4), confirmingRead: try $0.decodeIfPresent(at: 5))
        }
    }

    /// A run's drift items, as the report shows them, by kind and enrollment. An item recorded
    /// without a period gets the one the store learned since from a roster read, and its name
    /// from the newest run that read it.
    public func driftItems(runID: Int64, on connection: Connection) throws -> [StoredDriftItem] {
        try driftItems(where: "d.run_id = $1", [runID], on: connection)
    }

    /// One enrollment's drift item of a run, when it had one.
    public func driftItem(runID: Int64, enrollmentID: Int, on connection: Connection) throws -> StoredDriftItem? {
        try driftItems(where: "d.run_id = $1 AND d.student_period_id = $2", [runID, enrollmentID], on: connection).first
    }

    private func driftItems(where condition: String, _ parameters: [(any PostgresEncodable)?], on connection: Connection) throws -> [StoredDriftItem] {
        try connection.query("""
            SELECT d.run_id, d.kind, coalesce(d.period_id, ep.period_id),
                coalesce(d.period_name, (SELECT p.period_name FROM \(s).run_periods p
                    WHERE p.period_id = coalesce(d.period_id, ep.period_id) AND p.period_name IS NOT NULL ORDER BY p.run_id DESC LIMIT 1)),
                d.student_period_id, d.student_id, d.student_name, d.student_email,
                d.student_status, d.changed_fields, d.local_student_id, d.local_active, d.local_added_at, d.remote_student_id,
                d.remote_active, d.remote_added_at, d.last_event_id, d.last_event_type, d.last_event_at, d.first_seen_run,
                d.in_first_read, d.in_confirming_read
            FROM \(s).drift_items d
            JOIN \(s).reconcile_runs r ON r.run_id = d.run_id
            LEFT JOIN \(s).enrollment_periods ep ON ep.tenant = r.tenant AND ep.student_period_id = d.student_period_id
            WHERE \(condition)
            ORDER BY array_position(ARRAY['missed_create', 'missed_update', 'missed_delete', 'stale_delete'], d.kind), d.student_period_id
            """, parameters).rows.map { row in
            var item = StoredDriftItem(runID: try row.decode(at: 0), kind: try row.decode(at: 1), studentPeriodID: try row.decode(at: 4),
                                       firstSeenRun: try row.decode(at: 19))
            item.periodID = try row.decodeIfPresent(at: 2)
            item.periodName = try row.decodeIfPresent(at: 3)
            item.studentID = try row.decodeIfPresent(at: 5)
            item.studentName = try row.decodeIfPresent(at: 6)
            item.studentEmail = try row.decodeIfPresent(at: 7)
            item.studentStatus = try row.decodeIfPresent(at: 8)
            item.changedFields = try row.decodeIfPresent(at: 9) ?? ""
            item.localStudentID = try row.decodeIfPresent(at: 10)
            item.localActive = try row.decodeIfPresent(at: 11)
            item.localAddedAt = try row.decodeIfPresent(at: 12)
            item.remoteStudentID = try row.decodeIfPresent(at: 13)
            item.remoteActive = try row.decodeIfPresent(at: 14)
            item.remoteAddedAt = try row.decodeIfPresent(at: 15)
            item.lastEventID = try row.decodeIfPresent(at: 16)
            item.lastEventType = try row.decodeIfPresent(at: 17)
            item.lastEventAt = try row.decodeIfPresent(at: 18)
            item.inFirstRead = try row.decodeIfPresent(at: 20)
            item.inConfirmingRead = try row.decodeIfPresent(at: 21)
            return item
        }
    }
}
