import Foundation
import Models
import Postgres

/// What the webhook receiver (`serve`) writes: one event per request, or the body it rejected.
public struct ReceiverInbox: Sendable {
    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// Whether the database answers, for the health check.
    public func ping(on connection: Connection) throws {
        try connection.execute("SELECT 1")
    }

    /// What became of a delivery.
    public enum Stored: Sendable, Equatable {
        case stored
        /// Its event id was already stored: kept as it was.
        case duplicate
        /// Its event id was refused before as a possible replay: refused again.
        case refusedReplay
    }

    /// Stores a validated webhook, unless its event id is stored already or was refused as a
    /// possible replay.
    ///
    /// - Parameter signatureValid: checked, so `true`; no secret configured, so `nil` (unknown).
    public func store(_ envelope: WebhookEnvelope, body: String, signatureValid: Bool?, on connection: Connection) throws -> Stored {
        let s = quoteIdentifier(schema)
        let rows = try connection.queryPrepared(
            WebhookEventsTable.insert(schema: schema, rows: """
                SELECT $1::uuid, $2, $3, $4::timestamptz, $5, $6::boolean, $7, 'webhook', $8::bigint, $9::bigint, $10::boolean, $11::timestamptz
                WHERE NOT EXISTS (SELECT 1 FROM \(s).refused_replays WHERE event_id = $1::uuid)
                """),
            [envelope.id, envelope.tenant, envelope.type, envelope.time, envelope.signature, signatureValid, body]
                + WebhookEventsTable.typedFields(envelope)
        ).rows
        if !rows.isEmpty { return .stored }
        // Nothing stored: rare, so the second look costs nothing on the common path.
        let refused = try connection.query("SELECT EXISTS (SELECT 1 FROM \(s).refused_replays WHERE event_id = $1)", [envelope.id])
            .first?.decode(Bool.self, at: 0) ?? false
        return refused ? .refusedReplay : .duplicate
    }

    /// Remembers an event id refused as a possible replay, so that no later timestamp lets it in.
    public func refuseReplay(_ envelope: WebhookEnvelope, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO \(quoteIdentifier(schema)).refused_replays (event_id, tenant) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            [envelope.id, envelope.tenant]
        )
    }

    /// Keeps a body that is not a valid webhook, with why, in `rejected_events`.
    public func reject(_ body: [UInt8], reason: String, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO \(quoteIdentifier(schema)).rejected_events (source_name, reason, raw) VALUES ('serve', $1, $2)", [reason, Data(body)]
        )
    }
}
