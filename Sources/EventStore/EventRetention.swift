import Foundation
import Postgres
import Reconciliation

/// `prune`: removes stored student-period events that can never matter again, to keep the store's
/// size (and a full refold's time) bounded.
///
/// An event is removed only when all of these hold: it is older than the window (by the time it
/// was stored); its tenant has a kept fold state and the event is below that state's horizon (it
/// was folded); the kept state of its enrollment is another event (it lost, and being a maximum,
/// the fold never lets a loser win later); its signature did not fail; and no backfill made it
/// (a backfill's events keep their delivery record); and the fold can use it (the fold's own
/// verdict, ``EventUsability``, not a second reading of `data`). The winning
/// event of every enrollment, events of other types, unusable ones and anything newer than the
/// horizon stay.
public struct EventRetention: Sendable {
    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// Removes (or with `dryRun` only counts) the superseded events stored before `cutoff`, per tenant.
    public func prune(storedBefore cutoff: Date, tenant: String? = nil, dryRun: Bool, on connection: Connection) throws -> [String: Int] {
        let s = quoteIdentifier(schema)
        func candidates(_ layout: EventLayout) -> String { """
            SELECT \(LocalEventReader.eventColumns(prefix: "e.", layout: layout)), e.tenant FROM \(s).webhook_events e
            JOIN \(s).fold_checkpoints c ON c.tenant = e.tenant
            JOIN \(s).enrollment_states st ON st.tenant = e.tenant
                AND st.student_period_id = \(layout.enrollmentID(prefix: "e."))
            WHERE e.event_type LIKE 'STUDENT\\_PERIOD\\_%'
              AND ($2::text IS NULL OR e.tenant = $2)
              AND e.received_at < $1
              AND (e.inserted_xid IS NULL OR e.inserted_xid < c.horizon)
              AND st.event_id <> e.event_id
              AND e.signature_valid IS DISTINCT FROM false
              AND e.source <> 'backfill'
              AND NOT EXISTS (SELECT 1 FROM \(s).backfill_events b WHERE b.event_id = e.event_id)
            """
        }
        return try connection.transaction { session in
            var removable: [(tenant: String, eventID: UUID)] = []
            let layout = try EventLayout.current(session, schema: schema)
            try session.stream(candidates(layout), [cutoff, tenant]) { row in
                guard case .usable(let event) = EventUsability(try LocalEventReader.storedEvent(row, layout: layout)) else { return }
                removable.append((try row.decode(String.self, at: 8), event.eventID))
            }
            if !dryRun {
                for start in stride(from: 0, to: removable.count, by: Self.deleteBatch) {
                    let ids = removable[start..<min(start + Self.deleteBatch, removable.count)].map(\.eventID)
                    try session.execute("DELETE FROM \(s).webhook_events WHERE event_id = ANY($1::uuid[])", [PostgresArray(ids)])
                }
            }
            return Dictionary(grouping: removable, by: \.tenant).mapValues(\.count)
        }
    }

    /// Events removed by one statement.
    static let deleteBatch = 10_000
}
