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
        try connection.query("""
            SELECT payload->>'id', signature FROM \(quoteIdentifier(schema)).webhook_events
            WHERE tenant = $1 AND source <> 'backfill'
            ORDER BY seq DESC LIMIT $2
            """, [tenant, max(1, limit)]).rows.map { (try $0.decode(String.self, at: 0), try $0.decodeIfPresent(String.self, at: 1)) }
    }
}
