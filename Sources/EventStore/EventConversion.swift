import Foundation
import Logging
import Models
import Postgres

/// Converts the events a store kept before the typed columns (`sql/010_typed_events.sql`), online:
/// the receiver keeps storing and runs keep working while it goes (they read the jsonb of rows
/// not converted yet), and no statement of it holds a lock that blocks them for more than a moment.
///
/// 1. Rows with a `payload`, in event-id order, a batch per transaction: each row's fields typed
///    by the same reading a new event gets (``WebhookEnvelope/dataFields(of:decoder:)`` of its
///    body), `payload` set to NULL (a body it lacked taken from it). Row locks only, on rows no
///    writer touches (writers add new ids). Resumable: what is left is what still has a payload.
/// 2. The index on the typed enrollment id, built `CONCURRENTLY` (an invalid one left by an
///    interrupted build is dropped and built again); the jsonb index dropped `CONCURRENTLY`.
/// 3. The `payload` column dropped: a catalog change, under a lock it waits at most half a
///    second for (and tries again), so the receiver's inserts queue behind it no longer.
/// 4. The view `webhook_events_json` (the body as jsonb), for people who query by hand.
public struct EventConversion: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// The store was typed already.
        case typed
        /// Converted now, to the end.
        case finished(converted: Int)
        /// Stopped at the deadline; `migrate` goes on from there.
        case unfinished(converted: Int)

        /// What `migrate` says of it; nothing when there was nothing to convert (a new store).
        public var sentence: String? {
            switch self {
            case .finished(let count) where count > 0:
                "stored events: \(count) converted to typed columns; the jsonb copy is gone"
            case .unfinished(let count):
                "stored events: \(count) converted, some left: run `dreamclass-reconcile migrate` again to go on (runs and the receiver work meanwhile)"
            case .finished, .typed:
                nil
            }
        }
    }

    public var schema: String
    /// Rows per transaction: a batch's row locks last well under a second.
    public var batchSize = 2_000
    public var logger: Logger
    /// At most this many batches in one call (a bounded pass; `nil`: to the end).
    public var maxBatches: Int?
    /// Called after each batch with the rows converted so far and the table's estimated size.
    public var progress: (@Sendable (_ converted: Int, _ estimatedRows: Int) -> Void)?

    public init(schema: String, logger: Logger = Logger(label: "migrate")) {
        self.schema = schema
        self.logger = logger
    }

    private var table: String { "\(quoteIdentifier(schema)).webhook_events" }

    /// Converts what is left; stops between batches once `deadline` has passed.
    public func run(_ connection: Connection, until deadline: ContinuousClock.Instant? = nil) throws -> Outcome {
        // A schema migrated only part of the way (a test of an older release's store) has no typed columns yet.
        guard try connection.query("""
            SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'student_period_id' AND NOT attisdropped)
            """, [table]).first?.decode(Bool.self, at: 0) == true else { return .typed }
        guard try layout(connection) == .converting else {
            try buildIndexes(connection)
            try createView(connection)
            return .typed
        }
        let estimated = try connection.query("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass", [table])
            .first?.decode(Int.self, at: 0) ?? 0
        var converted = 0
        var cursor = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        var batches = 0
        let started = ContinuousClock.now
        while true {
            if let deadline, ContinuousClock.now >= deadline {
                logger.notice("event conversion stopped at the deadline; migrate goes on from here", metadata: ["converted": "\(converted)"])
                return .unfinished(converted: converted)
            }
            if let maxBatches, batches >= maxBatches { return .unfinished(converted: converted) }
            guard let (count, last) = try convertBatch(after: cursor, connection) else {
                // None left after the cursor: a writer of an older release may still have added a
                // row with a payload behind it; look once more from the start before finishing.
                if try connection.query("SELECT EXISTS (SELECT 1 FROM \(table) WHERE payload IS NOT NULL)").first?.decode(Bool.self, at: 0) == true {
                    cursor = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
                    continue
                }
                break
            }
            converted += count
            cursor = last
            batches += 1
            progress?(converted, estimated)
            if batches % 50 == 0 {
                let seconds = (ContinuousClock.now - started).components.seconds
                logger.info("converting stored events", metadata: [
                    "converted": "\(converted)", "estimated_rows": "\(estimated)", "seconds": "\(seconds)",
                ])
            }
        }
        try finish(connection)
        logger.info("stored events converted to typed columns", metadata: ["converted": "\(converted)"])
        return .finished(converted: converted)
    }

    private func layout(_ connection: Connection) throws -> EventLayout {
        try connection.transaction(readOnly: true) { try EventLayout.current($0, schema: schema) }
    }

    /// One batch after `cursor`: how many rows it converted and the last id; `nil` when none is left after it.
    private func convertBatch(after cursor: UUID, _ connection: Connection) throws -> (Int, UUID)? {
        try connection.transaction { session in
            var ids: [UUID] = [], studentPeriods: [Int?] = [], students: [Int?] = [], active: [Bool?] = [], addedAt: [Date?] = []
            var bodies: [String?] = []
            let decoder = JSONDecoder()
            try session.stream("""
                SELECT event_id, event_type, coalesce(body, payload::text), body IS NULL FROM \(table)
                WHERE event_id > $1 AND payload IS NOT NULL ORDER BY event_id LIMIT $2 FOR UPDATE
                """, [cursor, batchSize]) { row in
                let document: String = try row.decode(at: 2)
                // The same reading as a new event's; another family keeps only its envelope columns.
                let fields = LocalEvent.Kind(eventType: try row.decode(at: 1)) == nil
                    ? StoredEvent.Fields(id: nil, studentID: nil, active: nil, addedAt: nil)
                    : WebhookEnvelope.dataFields(of: Array(document.utf8), decoder: decoder)
                ids.append(try row.decode(at: 0))
                studentPeriods.append(fields.id)
                students.append(fields.studentID)
                active.append(fields.active)
                addedAt.append(fields.addedAt)
                bodies.append(try row.decode(Bool.self, at: 3) ? document : nil)
            }
            guard let last = ids.last else { return nil }
            try session.execute("""
                UPDATE \(table) e SET student_period_id = u.student_period_id, student_id = u.student_id, active = u.active,
                    added_at = u.added_at, body = coalesce(e.body, u.body), payload = NULL
                FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::boolean[], $5::timestamptz[], $6::text[])
                    AS u(event_id, student_period_id, student_id, active, added_at, body)
                WHERE e.event_id = u.event_id
                """, [PostgresArray(ids), PostgresArray(studentPeriods), PostgresArray(students), PostgresArray(active),
                      PostgresArray(addedAt), PostgresArray(bodies)])
            return (ids.count, last)
        }
    }

    /// The indexes the readers need, each built concurrently when it is missing or invalid (an
    /// interrupted CONCURRENTLY build leaves an invalid index that IF NOT EXISTS would keep):
    /// the typed enrollment id, which the fold reads in order; the events of other families,
    /// which a full fold counts (without it, the count was one more pass over the tenant's rows,
    /// 0.12 s of a 1M-event refold).
    private func buildIndexes(_ connection: Connection) throws {
        let indexes = [
            ("webhook_events_enrollment", "the typed enrollment id",
             "(tenant, student_period_id, event_time) WHERE event_type LIKE 'STUDENT\\_PERIOD\\_%'"),
            ("webhook_events_other_families", "the events of other families",
             "(tenant) WHERE event_type NOT IN ('STUDENT_PERIOD_CREATED', 'STUDENT_PERIOD_UPDATED', 'STUDENT_PERIOD_DELETED')"),
        ]
        for (name, what, definition) in indexes {
            let index = "\(quoteIdentifier(schema)).\(name)"
            let valid = try connection.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", [index]).first?.decode(Bool.self, at: 0)
            if valid == true { continue }
            if valid == false { try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(index)") }
            logger.info("building the index on \(what) (concurrently)")
            try connection.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS \(name) ON \(table) \(definition)")
        }
    }

    /// The new indexes, the old one and the jsonb column gone, the view.
    private func finish(_ connection: Connection) throws {
        try buildIndexes(connection)
        try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(quoteIdentifier(schema)).webhook_events_student_period")
        // Waiting for the lock blocks the writers queued behind it: half a second at most, then
        // again after a pause, while runs and the receiver go on in between.
        for attempt in 1... {
            do {
                try connection.transaction { session in
                    try session.execute("SET LOCAL lock_timeout = '500ms'")
                    try session.execute("ALTER TABLE \(table) DROP COLUMN IF EXISTS payload")
                }
                break
            } catch let error as PostgresError where error.sqlState == "55P03" && attempt < 120 {
                logger.info("the table is busy; dropping the jsonb column again in a second", metadata: ["attempt": "\(attempt)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
        try createView(connection)
    }

    /// Puts every stored event back in the form the releases before the typed columns kept (a
    /// `jsonb` copy, no typed columns), on a store that still has the `payload` column: how a
    /// benchmark makes a big store to convert. Not for a store anyone uses.
    public func restoreFormBeforeTypedColumns(_ connection: Connection) throws {
        try connection.execute("""
            UPDATE \(table) SET payload = body::jsonb, student_period_id = NULL, student_id = NULL, active = NULL, added_at = NULL
            """)
        try connection.execute("VACUUM ANALYZE \(table)")
    }

    private func createView(_ connection: Connection) throws {
        try connection.execute("""
            CREATE OR REPLACE VIEW \(quoteIdentifier(schema)).webhook_events_json AS
            SELECT event_id, tenant, event_type, event_time, signature, signature_valid, received_at, source, seq,
                student_period_id, student_id, active, added_at, body, body::jsonb AS document
            FROM \(table)
            """)
    }
}
