import Foundation
import Postgres

/// `prune`: removes stored student-period events that can never matter again, to keep the store's
/// size (and a full refold's time) bounded.
///
/// An event is removed only when all of these hold: it is older than the window (by the time it
/// was stored); its tenant has a kept fold state and the event is below that state's horizon (it
/// was folded); the kept state of its enrollment is another event (it lost, and being a maximum,
/// the fold never lets a loser win later); its signature did not fail; and no backfill made it
/// (a backfill's events keep their delivery record). The winning event of every enrollment, events
/// of other types, unusable ones and anything newer than the horizon stay.
public struct EventRetention: Sendable {
    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// Removes (or with `dryRun` only counts) the superseded events stored before `cutoff`, per tenant.
    public func prune(storedBefore cutoff: Date, tenant: String? = nil, dryRun: Bool, on connection: Connection) throws -> [String: Int] {
        let s = quoteIdentifier(schema)
        let candidates = """
            SELECT e.tenant, e.event_id FROM \(s).webhook_events e
            JOIN \(s).fold_checkpoints c ON c.tenant = e.tenant
            JOIN \(s).enrollment_states st ON st.tenant = e.tenant
                AND jsonb_typeof(e.payload->'data'->'id') = 'number'
                AND st.student_period_id = (e.payload->'data'->>'id')::numeric
            WHERE e.event_type LIKE 'STUDENT\\_PERIOD\\_%'
              AND ($2::text IS NULL OR e.tenant = $2)
              AND e.received_at < $1
              AND (e.inserted_xid IS NULL OR e.inserted_xid < c.horizon)
              AND st.event_id <> e.event_id
              AND e.signature_valid IS DISTINCT FROM false
              AND e.source <> 'backfill'
              AND NOT EXISTS (SELECT 1 FROM \(s).backfill_events b WHERE b.event_id = e.event_id)
            """
        let sql = dryRun
            ? "SELECT tenant, count(*) FROM (\(candidates)) p GROUP BY tenant"
            : """
              WITH removed AS (
                  DELETE FROM \(s).webhook_events w USING (\(candidates)) p WHERE w.event_id = p.event_id RETURNING w.tenant
              )
              SELECT tenant, count(*) FROM removed GROUP BY tenant
              """
        return Dictionary(uniqueKeysWithValues: try connection.query(sql, [cutoff, tenant]).rows.map {
            (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1))
        })
    }
}
