import Foundation
import Models
import Postgres
import Reconciliation

/// Reads what the store holds about one enrollment, for `explain`: its events (every family),
/// its kept fold state, a run's drift item and reads, the runs since, and the backfill's
/// decision. One REPEATABLE READ snapshot, so the parts agree with each other; nothing is written.
public struct ExplainStore: Sendable {
    public var schema: String
    private var s: String { quoteIdentifier(schema) }

    public init(schema: String) { self.schema = schema }

    /// Where `explain` could not find what it was asked for.
    public enum Lookup: Error, Equatable, CustomStringConvertible {
        case noSuchRun(Int64)
        case runOfAnotherTenant(runID: Int64, tenant: String, asked: String)

        public var description: String {
            switch self {
            case .noSuchRun(let id): "there is no run \(id) (`dreamclass-reconcile runs` lists the runs)"
            case .runOfAnotherTenant(let id, let tenant, let asked):
                "run \(id) is of tenant \"\(tenant)\", not \"\(asked)\" (`dreamclass-reconcile runs --tenant \(asked)` lists its runs)"
            }
        }
    }

    /// The evidence about `enrollmentID` of `tenant`, against run `runID` (default: the tenant's
    /// newest complete run).
    public func evidence(tenant: String, enrollmentID: Int, runID: Int64?, on connection: Connection) throws -> Explanation.Evidence {
        try connection.begin(isolation: .repeatableRead)
        defer { connection.rollback() }
        let layout = try connection.withSession { try EventLayout.current($0, schema: schema) }
        var evidence = Explanation.Evidence(tenant: tenant, enrollmentID: enrollmentID,
                                            events: try events(tenant: tenant, enrollmentID: enrollmentID, layout: layout, on: connection))
        try connection.withSession { session in
            let kept = FoldStateStore(schema: schema)
            evidence.horizon = try kept.horizon(tenant: tenant, on: session)
            evidence.kept = try kept.state(tenant: tenant, enrollmentID: enrollmentID, on: session)
        }
        let runs = RunStore(schema: schema)
        let chosen: Int64?
        if let runID {
            guard let run = try runs.run(runID, on: connection) else { throw Lookup.noSuchRun(runID) }
            guard run.tenant == tenant else { throw Lookup.runOfAnotherTenant(runID: runID, tenant: run.tenant, asked: tenant) }
            chosen = runID
        } else {
            chosen = try connection.query(
                "SELECT max(run_id) FROM \(s).reconcile_runs WHERE tenant = $1 AND status IN ('ok', 'drift')", [tenant]
            ).first?.decodeIfPresent(Int64.self, at: 0)
        }
        let known = try connection.query(
            "SELECT period_id FROM \(s).enrollment_periods WHERE tenant = $1 AND student_period_id = $2", [tenant, enrollmentID]
        ).first?.decode(Int.self, at: 0)
        guard let chosen, let run = try runs.run(chosen, on: connection) else {
            evidence.periodID = known
            return evidence
        }
        evidence.run = run
        evidence.settleSeconds = try connection.query(
            "SELECT (options->>'settle_seconds')::float8 FROM \(s).reconcile_runs WHERE run_id = $1", [chosen]
        ).first?.decodeIfPresent(Double.self, at: 0)
        evidence.item = try runs.driftItem(runID: chosen, enrollmentID: enrollmentID, on: connection)
        evidence.periodID = evidence.item?.periodID ?? known
        let reads = try runs.periodReads(runID: chosen, on: connection)
        evidence.periodRead = evidence.periodID.flatMap { id in reads.first { $0.periodID == id } }
        evidence.allPeriodsRead = run.scope == "all" && !reads.isEmpty && reads.allSatisfy { $0.readOK && $0.confirmingRead != false }
        evidence.later = try connection.query("""
            SELECT r.run_id, d.kind, p.read_ok AND p.confirming_read IS DISTINCT FROM false
            FROM \(s).reconcile_runs r
            LEFT JOIN \(s).drift_items d ON d.run_id = r.run_id AND d.student_period_id = $3
            LEFT JOIN \(s).run_periods p ON p.run_id = r.run_id AND p.period_id = $4
            WHERE r.tenant = $1 AND r.scope = $2 AND r.run_id > $5 AND r.status IN ('ok', 'drift')
            ORDER BY r.run_id LIMIT 100
            """, [tenant, run.scope, enrollmentID, evidence.periodID, chosen]).rows.map {
            Explanation.LaterRun(runID: try $0.decode(at: 0), kind: try $0.decodeIfPresent(at: 1), periodReadWhole: try $0.decodeIfPresent(at: 2))
        }
        evidence.repair = try connection.query("""
            SELECT d.backfill_decision, d.backfill_reason, d.backfill_event_id, w.event_type, b.delivery_state, b.attempts,
                b.last_error, b.delivered_at
            FROM \(s).drift_items d
            LEFT JOIN \(s).backfill_events b ON b.event_id = d.backfill_event_id
            LEFT JOIN \(s).webhook_events w ON w.event_id = d.backfill_event_id
            WHERE d.run_id = $1 AND d.student_period_id = $2 AND d.backfill_decision IS NOT NULL
            """, [chosen, enrollmentID]).first.map { row in
            RepairRecord(
                decision: try row.decode(at: 0), reason: try row.decodeIfPresent(at: 1), eventID: try row.decodeIfPresent(at: 2),
                eventType: try row.decodeIfPresent(at: 3), deliveryState: try row.decodeIfPresent(at: 4), attempts: try row.decodeIfPresent(at: 5),
                lastError: try row.decodeIfPresent(at: 6), deliveredAt: try row.decodeIfPresent(at: 7)
            )
        }
        return evidence
    }

    /// Every stored event of the tenant whose `data.id` is `enrollmentID` (a JSON integer): the
    /// student-period family through its index; the other families (which keep no typed
    /// columns) by their body, read here, not by the server (a body need not be a document
    /// PostgreSQL's jsonb can hold).
    func events(tenant: String, enrollmentID: Int, layout: EventLayout, on connection: Connection) throws -> [StoredEvent] {
        // The document as it came: the body (or, for a row not converted yet without one, the jsonb's text).
        let body = layout == .typed ? "body" : "coalesce(body, payload::text)"
        let columns = LocalEventReader.eventColumns(prefix: "", layout: layout) + ", received_at, source, \(body), inserted_xid"
        let rows = try connection.query("""
            SELECT \(columns) FROM \(s).webhook_events
            WHERE tenant = $1 AND event_type LIKE 'STUDENT\\_PERIOD\\_%' AND \(layout.enrollmentID(prefix: "")) = $2
            UNION ALL
            SELECT \(columns) FROM \(s).webhook_events
            WHERE tenant = $1 AND event_type NOT LIKE 'STUDENT\\_PERIOD\\_%' AND strpos(\(body), $2::bigint::text) > 0
            """, [tenant, enrollmentID]).rows
        let decoder = JSONDecoder()
        return try rows.compactMap { row in
            var event = try LocalEventReader.storedEvent(row, layout: layout)
            let text: String = try row.decodeIfPresent(at: 10) ?? ""
            if LocalEvent.Kind(eventType: event.eventType) == nil {
                // Another family: its `data.id`, read as the fold would read it, must be the enrollment's.
                guard WebhookEnvelope.dataFields(of: Array(text.utf8), decoder: decoder).id == enrollmentID else { return nil }
            }
            event.receivedAt = try row.decode(at: 8)
            event.source = try row.decode(at: 9)
            event.data = Self.data(of: text)
            event.insertedXID = try row.decodeIfPresent(at: 11)
            return event
        }
    }

    /// `data` of a body, as compact JSON with sorted keys; the body itself when it cannot be read.
    static func data(of body: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], let data = object["data"],
              let text = try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return body }
        return String(decoding: text, as: UTF8.self)
    }

    /// The tenants whose stored events or runs name `enrollmentID`: what to suggest when the
    /// asked tenant has none.
    public func tenants(holding enrollmentID: Int, on connection: Connection) throws -> [String] {
        try connection.query("""
            SELECT tenant FROM \(s).enrollment_states WHERE student_period_id = $1
            UNION SELECT r.tenant FROM \(s).drift_items d JOIN \(s).reconcile_runs r ON r.run_id = d.run_id WHERE d.student_period_id = $1
            ORDER BY 1 LIMIT 20
            """, [enrollmentID]).rows.map { try $0.decode(String.self, at: 0) }
    }
}
