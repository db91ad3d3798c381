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

    /// Stores a validated webhook; `false` when its event id was already stored.
    ///
    /// - Parameter signatureValid: checked, so `true`; no secret configured, so `nil` (unknown).
    public func store(_ envelope: WebhookEnvelope, body: String, signatureValid: Bool?, on connection: Connection) throws -> Bool {
        let rows = try connection.query(
            WebhookEventsTable.insert(schema: schema, rows: "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $7, 'webhook')"),
            [envelope.id, envelope.tenant, envelope.type, envelope.time, envelope.signature, signatureValid, body]
        ).rows
        return !rows.isEmpty
    }

    /// Keeps a body that is not a valid webhook, with why, in `rejected_events`.
    public func reject(_ body: [UInt8], reason: String, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO \(quoteIdentifier(schema)).rejected_events (source_name, reason, raw) VALUES ('serve', $1, $2)", [reason, Data(body)]
        )
    }
}
