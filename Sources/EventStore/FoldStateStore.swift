import Foundation
import Models
import Postgres
import Reconciliation

/// Each tenant's folded state (`enrollment_states`) and the horizon it is complete up to
/// (`fold_checkpoints`): what lets a run fold only the events stored since the last one.
/// See `sql/006_fold_state.sql` for why the horizon is a transaction id.
public struct FoldStateStore: Sendable {
    /// What a run writes back, in the transaction that records it.
    public struct Update: Sendable {
        public var tenant: String
        /// The fold (its storage shared, not copied): all its states are written after a full
        /// fold, the changed ones after an incremental one.
        public var fold: EventFold
        /// A full fold replaces the tenant's states; an incremental one merges into them.
        public var replacesAll: Bool
        public var horizon: Int64

        public init(tenant: String, fold: EventFold, replacesAll: Bool, horizon: Int64) {
            self.tenant = tenant
            self.fold = fold
            self.replacesAll = replacesAll
            self.horizon = horizon
        }

        /// Calls `body` with what is written: every state, or the changed ones.
        func forEachState(_ body: (EventFold.State) throws -> Void) rethrows {
            if replacesAll {
                for state in fold.states.values { try body(state) }
            } else {
                for id in fold.changed { if let state = fold.states[id] { try body(state) } }
            }
        }
    }

    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// The snapshot's horizon: every transaction below it had ended when the snapshot was taken.
    /// Call first in a REPEATABLE READ transaction, so it is that transaction's snapshot.
    func snapshotHorizon(_ session: Session) throws -> Int64 {
        try session.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").first?.decode(Int64.self, at: 0) ?? 0
    }

    /// The tenant's horizon, or `nil` when no run has kept a state yet.
    public func horizon(tenant: String, on session: Session) throws -> Int64? {
        try session.query("SELECT horizon FROM \(quoteIdentifier(schema)).fold_checkpoints WHERE tenant = $1", [tenant])
            .first?.decode(Int64.self, at: 0)
    }

    /// The tenant's kept states, streamed in enrollment order (the primary key's).
    public func forEachState(tenant: String, on session: Session, _ body: (EventFold.State) throws -> Void) throws {
        try states(where: "tenant = $1", [tenant], on: session, body)
    }

    /// One enrollment's kept state, when a run kept one.
    public func state(tenant: String, enrollmentID: Int, on session: Session) throws -> EventFold.State? {
        var found: EventFold.State?
        try states(where: "tenant = $1 AND student_period_id = $2", [tenant, enrollmentID], on: session) { found = $0 }
        return found
    }

    private func states(where condition: String, _ parameters: [(any PostgresEncodable)?], on session: Session, _ body: (EventFold.State) throws -> Void) throws {
        try session.stream("""
            SELECT student_period_id, event_id, kind, event_millis, student_id, active, added_at
            FROM \(quoteIdentifier(schema)).enrollment_states WHERE \(condition) ORDER BY student_period_id
            """, parameters) { row in
            let id: Int = try row.decode(at: 0)
            guard let kind = LocalEvent.Kind(rawValue: try row.decode(Int.self, at: 2)) else { return }
            var record: EnrollmentRecord?
            if let student = try row.decodeIfPresent(Int.self, at: 4), let active = try row.decodeIfPresent(Bool.self, at: 5),
                let addedAt = try row.decodeIfPresent(String.self, at: 6), let instant = Timestamp.parse(addedAt)
            {
                record = EnrollmentRecord(studentID: student, active: active, addedAtInstant: instant)
            }
            try body(EventFold.State(lastEvent: LocalEvent(
                eventID: try row.decode(at: 1), kind: kind, timeMillis: try row.decode(at: 3), enrollmentID: id, record: record
            )))
        }
    }

    /// Writes a run's fold back, with its horizon; part of the run's own transaction.
    public func save(_ update: Update, runID: Int64?, on session: Session) throws {
        let s = quoteIdentifier(schema)
        /// The states as COPY rows, with the tenant first when `withTenant`.
        func copy(into table: String, withTenant: Bool) throws {
            let columns = (withTenant ? "tenant, " : "") + "student_period_id, event_id, kind, event_millis, student_id, active, added_at"
            try session.copyIn("COPY \(table) (\(columns)) FROM STDIN") { writer in
                try update.forEachState { state in
                    let event = state.lastEvent
                    let row: [(any PostgresEncodable)?] = [event.enrollmentID, event.eventID, event.kind.rawValue, event.timeMillis,
                                                           event.record?.studentID, event.record?.active, event.record?.addedAt]
                    try writer.row(withTenant ? [update.tenant] + row : row)
                }
            }
        }
        if update.replacesAll {
            // A full fold's states replace the tenant's whole: straight in, nothing to merge.
            try session.execute("DELETE FROM \(s).enrollment_states WHERE tenant = $1", [update.tenant])
            try copy(into: "\(s).enrollment_states", withTenant: true)
        } else {
            try session.execute("""
                CREATE TEMPORARY TABLE IF NOT EXISTS fold_staging (student_period_id bigint, event_id uuid, kind smallint,
                    event_millis bigint, student_id bigint, active boolean, added_at text) ON COMMIT DELETE ROWS
                """)
            try copy(into: "pg_temp.fold_staging", withTenant: false)
            try session.execute("""
                INSERT INTO \(s).enrollment_states (tenant, student_period_id, event_id, kind, event_millis, student_id, active, added_at)
                SELECT $1, student_period_id, event_id, kind, event_millis, student_id, active, added_at FROM pg_temp.fold_staging
                ON CONFLICT (tenant, student_period_id) DO UPDATE SET event_id = excluded.event_id, kind = excluded.kind,
                    event_millis = excluded.event_millis, student_id = excluded.student_id, active = excluded.active,
                    added_at = excluded.added_at
                """, [update.tenant])
        }
        try session.execute("""
            INSERT INTO \(s).fold_checkpoints (tenant, horizon, run_id) VALUES ($1, $2, $3)
            ON CONFLICT (tenant) DO UPDATE SET horizon = excluded.horizon, run_id = excluded.run_id, updated_at = now()
            """, [update.tenant, update.horizon, runID])
    }
}
