import Foundation
import Models
import Postgres

/// The newest stored events of a tenant with their signatures, to find out which key encoding a
/// webhook secret needs (`config check --signatures`).
public struct SignatureSample: Sendable {
    public var schema: String

    public init(schema: String) {
        self.schema = schema
    }

    /// Up to `limit` of the tenant's newest events that came from DreamClass (not backfills): the
    /// `id` exactly as sent (what is signed) and the `signature`.
    public func newest(tenant: String, limit: Int, on connection: Connection) throws -> [(id: String, signature: String?)] {
        try connection.transaction(readOnly: true) { session in
            let body = try EventLayout.current(session, schema: schema) == .typed ? "body" : "coalesce(body, payload::text)"
            let decoder = JSONDecoder()
            // The id as sent is read from the body here: the server need not be able to parse it.
            return try session.query("""
                SELECT \(body), signature FROM \(quoteIdentifier(schema)).webhook_events
                WHERE tenant = $1 AND source <> 'backfill'
                ORDER BY seq DESC LIMIT $2
                """, [tenant, max(1, limit)]).rows.compactMap { row in
                guard let text = try row.decodeIfPresent(String.self, at: 0),
                      let envelope = try? WebhookEnvelope.validate(Array(text.utf8), decoder: decoder) else { return nil }
                return (envelope.rawID, try row.decodeIfPresent(String.self, at: 1))
            }
        }
    }
}
