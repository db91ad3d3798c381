import Foundation
import Models
import Postgres
import Reconciliation

/// Reads a tenant's stored student-period events and folds them, streaming: memory grows with the
/// number of enrollments, not of events. Incremental by default: the state the last run kept
/// (``FoldStateStore``) and the events stored since its horizon, read in one snapshot.
public struct LocalEventReader: Sendable {
    /// An event left out of the fold, and why.
    public struct Skipped: Sendable, Equatable {
        public var eventID: UUID
        public var reason: String
    }

    /// What a read found: the fold, and the events it could not use (kept for the run's record).
    public struct Outcome: Sendable {
        public var fold: EventFold
        /// Stored events of other families (`PAYMENT_*`, ...), which the fold does not use.
        public var otherEvents = 0
        /// Student-period events whose `data` lacks a field the fold needs, or has one of the
        /// wrong type.
        public var unusable: [Skipped] = []
        /// Events whose signature did not verify when they were stored: they may be forged.
        public var unsigned: [Skipped] = []
        /// Stored events read and folded, duplicates included: all of them, or those since the
        /// kept horizon.
        public var eventsRead = 0
        /// The snapshot's horizon: what the next run reads from.
        public var horizon: Int64 = 0
        /// The horizon this read went on from; `nil` when it folded every event.
        public var previousHorizon: Int64?

        /// What the run writes back of this fold.
        public func update(tenant: String) -> FoldStateStore.Update {
            FoldStateStore.Update(tenant: tenant, fold: fold, replacesAll: previousHorizon == nil, horizon: horizon)
        }
    }

    public var schema: String

    public init(schema: String) { self.schema = schema }

    /// - Parameters:
    ///   - refold: fold every event, not only those since the kept horizon (`run --full-refold`).
    ///   - settled: when given, the fold goes in enrollment order and calls it with each
    ///     enrollment's final state as soon as it is known, so that work that depends on it
    ///     (looking up students) can start while the fold goes on: a full fold as an enrollment's
    ///     last event goes by, an incremental one as its kept state streams by (the newer events
    ///     are read first). The last enrollment's state is known from the outcome.
    public func read(tenant: String, from connection: Connection, refold: Bool = false, settled: ((Int, EventFold.State) -> Void)? = nil) throws -> Outcome {
        try connection.transaction(isolation: .repeatableRead, readOnly: true) { session in
            try read(tenant: tenant, session: session, refold: refold, settled: settled)
        }
    }

    private func read(tenant: String, session: Session, refold: Bool, settled: ((Int, EventFold.State) -> Void)?) throws -> Outcome {
        let table = "\(quoteIdentifier(schema)).webhook_events"
        let kept = FoldStateStore(schema: schema)
        let horizon = try kept.snapshotHorizon(session)
        let layout = try EventLayout.current(session, schema: schema)
        let previous = refold ? nil : try kept.horizon(tenant: tenant, on: session)
        var outcome = Outcome(fold: EventFold())
        outcome.horizon = horizon
        outcome.previousHorizon = previous
        let since = previous.map { _ in " AND inserted_xid >= $2" } ?? ""
        let parameters: [(any PostgresEncodable)?] = previous.map { [tenant, $0] } ?? [tenant]
        // Served by the partial index on the other families (built by `migrate`): no pass over the
        // tenant's student-period rows.
        outcome.otherEvents = try session.query(
            "SELECT count(*) FROM \(table) WHERE tenant = $1 AND event_type NOT IN ('STUDENT_PERIOD_CREATED', 'STUDENT_PERIOD_UPDATED', 'STUDENT_PERIOD_DELETED')" + since,
            parameters
        ).first?.decode(Int.self, at: 0) ?? 0
        let sql = """
            SELECT \(Self.eventColumns(prefix: "", layout: layout))
            FROM \(table)
            WHERE tenant = $1 AND event_type IN ('STUDENT_PERIOD_CREATED', 'STUDENT_PERIOD_UPDATED', 'STUDENT_PERIOD_DELETED')
            """ + since
            // A full fold reads in enrollment order straight from the partial index, whose
            // predicate the LIKE repeats: rows then flow from the first one on, not after a sort
            // (while a store is converted, after one).
            + (settled == nil || previous != nil ? "" : " AND event_type LIKE 'STUDENT\\_PERIOD\\_%' ORDER BY \(layout.enrollmentID(prefix: ""))")
        var current: Int?
        try session.stream(sql, parameters) { row in
            let stored = try Self.storedEvent(row, layout: layout)
            let event: LocalEvent
            switch EventUsability(stored) {
            case .unsigned(let reason): outcome.unsigned.append(Skipped(eventID: stored.eventID, reason: reason)); return
            case .unusable(let reason): outcome.unusable.append(Skipped(eventID: stored.eventID, reason: reason)); return
            case .otherFamily: return
            case .usable(let usable): event = usable
            }
            let id = event.enrollmentID
            if let settled, previous == nil, let earlier = current, earlier != id, let state = outcome.fold.states[earlier] {
                settled(earlier, state)
            }
            current = id
            outcome.fold.add(event)
        }
        outcome.eventsRead = outcome.fold.eventsFolded
        if previous != nil {
            outcome.fold = try merge(newer: outcome.fold, withKept: kept, tenant: tenant, session: session, settled: settled)
        }
        return outcome
    }

    /// The columns ``storedEvent(_:layout:)`` reads, of a `webhook_events` row aliased `prefix`
    /// (`"e."`, or `""`).
    static func eventColumns(prefix p: String, layout: EventLayout) -> String {
        "\(p)event_id, \(p)event_type, \(EventLayout.epochMilliseconds("\(p)event_time")), \(p)signature_valid,\n"
            + layout.fieldColumns(prefix: p)
    }

    /// One row of ``eventColumns(prefix:layout:)``, as stored.
    static func storedEvent(_ row: Row, layout: EventLayout) throws -> StoredEvent {
        StoredEvent(
            eventID: try row.decode(at: 0), eventType: try row.decode(at: 1), timeMillis: try row.decode(at: 2),
            signatureValid: try row.decodeIfPresent(at: 3), fields: try layout.decodeFields(row, at: 4)
        )
    }

    /// The kept states in enrollment order, each merged with the newer events' winner as it
    /// streams by (a merge join of two id-ordered sides) and settled at once.
    private func merge(
        newer: EventFold, withKept kept: FoldStateStore, tenant: String, session: Session, settled: ((Int, EventFold.State) -> Void)?
    ) throws -> EventFold {
        var fold = EventFold(seededWith: [:])
        let newIDs = newer.states.keys.sorted()
        var next = 0
        /// Folds the newer winner of `id` in, when there is one; settles `id`.
        func finish(_ id: Int) {
            if next < newIDs.count, newIDs[next] == id {
                fold.add(newer.states[id]!.lastEvent)
                next += 1
            }
            if let settled, let state = fold.states[id] { settled(id, state) }
        }
        try kept.forEachState(tenant: tenant, on: session) { state in
            let id = state.lastEvent.enrollmentID
            while next < newIDs.count, newIDs[next] < id { finish(newIDs[next]) }
            fold.seed(state)
            finish(id)
        }
        while next < newIDs.count { finish(newIDs[next]) }
        return fold
    }
}
