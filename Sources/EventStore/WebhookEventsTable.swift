import Foundation
import Models
import Postgres

/// The table of stored webhook events, `webhook_events`, as a whole.
public struct WebhookEventsTable: Sendable {
    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// Events stored, of every tenant and source.
    public func count(on connection: Connection) throws -> Int {
        try connection.query("SELECT count(*) FROM \(quoteIdentifier(schema)).webhook_events").first?.decode(Int.self, at: 0) ?? 0
    }

    /// The table's size on disk, in bytes: everything (with indexes and TOAST), the table alone, its indexes.
    public func sizes(on connection: Connection) throws -> (total: Int, table: Int, indexes: Int) {
        let table = "\(quoteIdentifier(schema)).webhook_events"
        let row = try connection.query("SELECT pg_total_relation_size($1::regclass), pg_relation_size($1::regclass), pg_indexes_size($1::regclass)", [table]).first!
        return (try row.decode(Int.self, at: 0), try row.decode(Int.self, at: 1), try row.decode(Int.self, at: 2))
    }

    /// Fresh planner statistics and visibility map after a bulk load, so the next fold reads with an index-only plan.
    public func analyze(on connection: Connection) throws {
        try connection.execute("VACUUM ANALYZE \(quoteIdentifier(schema)).webhook_events")
    }

    /// The one statement that adds events, whoever adds them (ingest, the receiver, a backfill):
    /// `INSERT … <rows> ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, where `rows` is a
    /// `SELECT` or `VALUES` giving, in order: event_id, tenant, event_type, event_time, signature,
    /// signature_valid, body, source, then the typed fields of ``typedFields(_:)``:
    /// student_period_id, student_id, active, added_at. An event id already stored is kept as it is.
    static func insert(schema: String, rows: String) -> String {
        """
        INSERT INTO \(quoteIdentifier(schema)).webhook_events
            (event_id, tenant, event_type, event_time, signature, signature_valid, body, source,
             student_period_id, student_id, active, added_at)
        \(rows)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
        """
    }

    /// The typed columns of an envelope, as the insert takes them: the fold's fields for a
    /// student-period event; nothing for another family, whose body is all that is kept.
    static func typedFields(_ envelope: WebhookEnvelope) -> [(any PostgresBinaryEncodable)?] {
        guard LocalEvent.Kind(eventType: envelope.type) != nil else { return [nil, nil, nil, nil] }
        return [envelope.data.id, envelope.data.studentID, envelope.data.active, envelope.data.addedAt]
    }
}
