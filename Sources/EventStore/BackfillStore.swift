import Foundation
import Models
import Postgres

/// What a backfill reads and writes: the events it synthesized (in `webhook_events`, source
/// `backfill`) and their delivery state (`backfill_events`).
public struct BackfillStore: Sendable {
    /// A synthesized event, ready to store.
    public struct Event: Sendable {
        public var eventID: UUID
        public var studentPeriodID: Int
        public var kind: String
        public var eventType: String
        public var eventTime: Date
        /// Signed with the school's secret: `true`; no secret known: `nil` (unknown).
        public var signatureValid: Bool?
        public var body: String

        public init(eventID: UUID, studentPeriodID: Int, kind: String, eventType: String, eventTime: Date, signatureValid: Bool?, body: String) {
            self.eventID = eventID
            self.studentPeriodID = studentPeriodID
            self.kind = kind
            self.eventType = eventType
            self.eventTime = eventTime
            self.signatureValid = signatureValid
            self.body = body
        }
    }

    /// An event of a run that is not delivered yet.
    public struct Pending: Sendable {
        public var eventID: UUID
        public var studentPeriodID: Int
        public var body: String
    }

    /// How one delivery ended.
    public struct Delivery: Sendable {
        public var eventID: UUID
        public var delivered: Bool
        public var attempts: Int
        public var lastError: String?

        public init(eventID: UUID, delivered: Bool, attempts: Int, lastError: String?) {
            self.eventID = eventID
            self.delivered = delivered
            self.attempts = attempts
            self.lastError = lastError
        }
    }

    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// Whether the store holds any event of the tenant.
    public func hasEvents(tenant: String, on connection: Connection) throws -> Bool {
        try connection.query("SELECT EXISTS (SELECT 1 FROM \(quoteIdentifier(schema)).webhook_events WHERE tenant = $1)", [tenant])
            .first?.decode(Bool.self, at: 0) ?? false
    }

    /// The tenant's enrollments per period, as earlier runs learned them; the `nil` key counts them all.
    public func localEnrollments(tenant: String, on connection: Connection) throws -> [Int?: Int] {
        var counts: [Int?: Int] = [:]
        for row in try connection.query(
            "SELECT period_id, count(*) FROM \(quoteIdentifier(schema)).enrollment_periods WHERE tenant = $1 GROUP BY period_id", [tenant]
        ).rows {
            let (period, count) = try row.decode(Int.self, Int.self)
            counts[period] = count
            counts[nil, default: 0] += count
        }
        return counts
    }

    /// Which of `ids` got a real event (not a backfill's) stored or timed after `since`.
    public func enrollmentsWithNewerEvents(_ ids: [Int], tenant: String, since: Date, on connection: Connection) throws -> Set<Int> {
        guard !ids.isEmpty else { return [] }
        return try connection.transaction(readOnly: true) { session in
            let id = try EventLayout.current(session, schema: schema).enrollmentID(prefix: "")
            let rows = try session.query("""
                SELECT DISTINCT (\(id))::bigint FROM \(quoteIdentifier(schema)).webhook_events
                WHERE tenant = $1 AND event_type LIKE 'STUDENT\\_PERIOD\\_%' AND source <> 'backfill'
                  AND \(id) = ANY ($2::bigint[])
                  AND (received_at > $3 OR event_time > $3)
                """, [tenant, PostgresArray(ids), since]).rows
            return Set(try rows.map { try $0.decode(Int.self, at: 0) })
        }
    }

    /// Stores a batch of a run's events in one transaction (COPY into a staging table, then one
    /// insert); returns the ids that were new. An id already stored stays as it is.
    public func store(_ batch: [Event], tenant: String, runID: Int64, on connection: Connection) throws -> Set<UUID> {
        try connection.transaction { session in
            try session.execute("""
                CREATE TEMPORARY TABLE IF NOT EXISTS backfill_staging (event_id uuid, student_period_id bigint, kind text, \
                event_type text, event_time timestamptz, signature text, signature_valid boolean, body text, \
                data_id bigint, student_id bigint, active boolean, added_at timestamptz) ON COMMIT DELETE ROWS
                """)
            try session.copyIn("COPY pg_temp.backfill_staging FROM STDIN") { writer in
                for event in batch {
                    // Typed by the same reading as every other writer's: the body's envelope.
                    let envelope = try WebhookEnvelope.validate(Array(event.body.utf8))
                    try writer.row([event.eventID, event.studentPeriodID, event.kind, event.eventType, event.eventTime, envelope.signature,
                                    event.signatureValid, event.body] + WebhookEventsTable.typedFields(envelope))
                }
            }
            let inserted = try session.query(WebhookEventsTable.insert(schema: schema, rows: """
                SELECT event_id, $1, event_type, event_time, signature, signature_valid, body, 'backfill', data_id, student_id, active, added_at
                FROM pg_temp.backfill_staging
                """), [tenant]).rows.map { try $0.decode(UUID.self, at: 0) }
            try session.execute("""
                INSERT INTO \(quoteIdentifier(schema)).backfill_events (event_id, run_id, student_period_id, kind)
                SELECT event_id, $1, student_period_id, kind FROM pg_temp.backfill_staging
                ON CONFLICT (event_id) DO NOTHING
                """, [runID])
            return Set(inserted)
        }
    }

    /// Each of the run's events' delivery state (`pending`, `delivered`, `failed`).
    public func deliveryStates(runID: Int64, on connection: Connection) throws -> [UUID: String] {
        let rows = try connection.query(
            "SELECT event_id, delivery_state FROM \(quoteIdentifier(schema)).backfill_events WHERE run_id = $1", [runID]
        ).rows
        return Dictionary(try rows.map { (try $0.decode(UUID.self, at: 0), try $0.decode(String.self, at: 1)) }, uniquingKeysWith: { $1 })
    }

    /// The run's events not delivered yet, by enrollment, then event time.
    public func pendingDeliveries(runID: Int64, on connection: Connection) throws -> [Pending] {
        let s = quoteIdentifier(schema)
        return try connection.query("""
            SELECT b.event_id, b.student_period_id, w.body FROM \(s).backfill_events b JOIN \(s).webhook_events w USING (event_id)
            WHERE b.run_id = $1 AND b.delivery_state <> 'delivered'
            ORDER BY b.student_period_id, w.event_time, b.event_id
            """, [runID]).rows.map {
            Pending(eventID: try $0.decode(UUID.self, at: 0), studentPeriodID: try $0.decode(Int.self, at: 1), body: try $0.decode(String.self, at: 2))
        }
    }

    /// Records how deliveries ended, in one statement.
    public func record(_ deliveries: [Delivery], on connection: Connection) throws {
        guard !deliveries.isEmpty else { return }
        try connection.execute("""
            UPDATE \(quoteIdentifier(schema)).backfill_events b
            SET delivery_state = CASE WHEN r.delivered THEN 'delivered' ELSE 'failed' END,
                attempts = b.attempts + r.attempts, last_error = r.error,
                delivered_at = CASE WHEN r.delivered THEN now() END
            FROM unnest($1::uuid[], $2::boolean[], $3::int[], $4::text[]) AS r(event_id, delivered, attempts, error)
            WHERE b.event_id = r.event_id
            """, [
                PostgresArray(deliveries.map(\.eventID)), PostgresArray(deliveries.map(\.delivered)),
                PostgresArray(deliveries.map(\.attempts)), PostgresArray(deliveries.map(\.lastError)),
            ])
    }
}
