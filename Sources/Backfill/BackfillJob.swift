import DreamClassAPI
import EventStore
import Foundation
import Logging
import Models
import Postgres
import Reconciliation
import Reports
import Signing

/// Writes the events a run found missing into the store, one synthetic `STUDENT_PERIOD_*` event
/// per drift item, and delivers them to the school's webhook endpoint when asked.
///
/// | drift | event |
/// |---|---|
/// | `missed_create` | CREATED with DreamClass's row |
/// | `missed_update` | UPDATED with DreamClass's row |
/// | `missed_delete` | DELETED with the last local data |
/// | `stale_delete` | CREATED with DreamClass's row |
public struct BackfillJob: Sendable {
    public struct Options: Sendable {
        public var schema: String
        public var runID: Int64
        /// Deletes per period above this are held (default 10% of the period's local enrollments).
        public var maxDeletes: DeleteLimit = .percent(10)
        public var allowMassDelete = false
        public var dryRun = false
        /// Events per transaction.
        public var batchSize = 500
        /// Signs the events as DreamClass does (HMAC of the id), when the school's secret is known.
        public var signature: WebhookSignature?
        /// Called as deliveries end: how many are done, of how many (a terminal's progress line).
        public var deliveryProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)?

        public init(schema: String, runID: Int64) {
            self.schema = schema
            self.runID = runID
        }
    }

    /// What happened to one drift item.
    public struct Entry: Sendable, Equatable {
        public enum Outcome: String, Sendable {
            /// Written now.
            case stored
            /// Written by an earlier backfill of the same repair.
            case alreadyStored = "already_stored"
            /// A real event for the enrollment arrived after the run: newer truth is not overwritten.
            case skippedNewerEvent = "skipped_newer_event"
            /// A delete held by the mass-delete guard.
            case held
        }

        public var eventID: UUID
        public var kind: String
        public var eventType: String
        public var studentPeriodID: Int
        public var periodID: Int?
        public var outcome: Outcome
        public var deliveryState: String?
        public var body: String
        public var eventTime: Int64
    }

    public struct Outcome: Sendable {
        public var entries: [Entry]
        /// Periods whose deletes were held; `nil` stands for the enrollments of unknown period.
        public var heldPeriods: [Int?]
        public var delivered = 0
        public var deliveryFailed = 0

        public func count(_ outcome: Entry.Outcome) -> Int { entries.filter { $0.outcome == outcome }.count }

        /// The entries as rows of the backfill report.
        public var reportRows: [BackfillReport.Row] {
            entries.map {
                BackfillReport.Row(eventID: $0.eventID, kind: $0.kind, eventType: $0.eventType, studentPeriodID: $0.studentPeriodID,
                                   periodID: $0.periodID, outcome: $0.outcome.rawValue, deliveryState: $0.deliveryState)
            }
        }

        public var summary: String {
            var text = "backfill: \(count(.stored)) stored, \(count(.alreadyStored)) already stored, "
                + "\(count(.skippedNewerEvent)) skipped (newer event), \(count(.held)) held"
            if delivered + deliveryFailed > 0 { text += " · delivered \(delivered), failed \(deliveryFailed)" }
            if !heldPeriods.isEmpty {
                let names = heldPeriods.map { $0.map { "period \($0)" } ?? "enrollments of unknown period" }
                text += "\nheld: deletes of \(names.joined(separator: ", ")) exceed the limit; review the report, then run again with --allow-mass-delete to apply them"
            }
            return text
        }
    }

    public var options: Options
    public var logger: Logger

    public init(options: Options, logger: Logger = Logger(label: "backfill")) {
        self.options = options
        self.logger = logger
    }

    /// - Parameters:
    ///   - sender: delivers the run's undelivered events after they are stored, when given.
    ///   - afterBatch: called after each committed batch (tests stop a backfill there, as a crash would).
    public func run(
        connection: Connection, sender: WebhookSender? = nil, now: Date = Date(), afterBatch: (Int) throws -> Void = { _ in }
    ) async throws -> Outcome {
        let store = RunStore(schema: options.schema)
        guard let run = try store.run(options.runID, on: connection) else { throw BackfillError.noSuchRun(options.runID) }
        guard [.drift, .incomplete, .ok].contains(run.status) else { throw BackfillError.runNotFinished(options.runID, run.status.rawValue) }
        let items = try store.driftItems(runID: run.runID, on: connection)
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        var entries = items.map { synthetic($0, tenant: run.tenant, millis: millis) }

        let held = try heldPeriods(items, run: run, store: store, connection: connection)
        let newer = try enrollmentsWithNewerEvents(entries.map(\.studentPeriodID), tenant: run.tenant, since: run.startedAt, connection: connection)
        for index in entries.indices {
            if newer.contains(entries[index].studentPeriodID) {
                entries[index].outcome = .skippedNewerEvent
            } else if entries[index].kind == "missed_delete", !options.allowMassDelete, held.contains(entries[index].periodID) {
                entries[index].outcome = .held
            }
        }
        var outcome = Outcome(entries: entries, heldPeriods: held.sorted { ($0 ?? -1) < ($1 ?? -1) })
        guard !options.dryRun else { return outcome }

        let toStore = entries.indices.filter { entries[$0].outcome == .stored }
        for (number, start) in stride(from: 0, to: toStore.count, by: max(1, options.batchSize)).enumerated() {
            let batch = Array(toStore[start..<min(start + options.batchSize, toStore.count)])
            let fresh = try write(batch.map { entries[$0] }, run: run, connection: connection)
            for index in batch where !fresh.contains(entries[index].eventID) { outcome.entries[index].outcome = .alreadyStored }
            try afterBatch(number + 1)
        }
        if let sender {
            let results = try await deliver(run: run, sender: sender, connection: connection)
            outcome.delivered = results.values.filter(\.delivered).count
            outcome.deliveryFailed = results.count - outcome.delivered
        }
        let states = try deliveryStates(run: run, connection: connection)
        for index in outcome.entries.indices { outcome.entries[index].deliveryState = states[outcome.entries[index].eventID] }
        return outcome
    }

    // MARK: - Building the events

    private func synthetic(_ item: StoredDriftItem, tenant: String, millis: Int64) -> Entry {
        let isDelete = item.kind == "missed_delete"
        let type = switch item.kind {
        case "missed_update": "STUDENT_PERIOD_UPDATED"
        case "missed_delete": "STUDENT_PERIOD_DELETED"
        default: "STUDENT_PERIOD_CREATED"
        }
        let data = Enrollment(
            id: item.studentPeriodID,
            studentId: (isDelete ? item.localStudentID : item.remoteStudentID) ?? item.studentID ?? 0,
            active: (isDelete ? item.localActive : item.remoteActive) ?? false,
            addedAt: (isDelete ? item.localAddedAt : item.remoteAddedAt) ?? ""
        )
        // What the event carries names it: DreamClass's row, or for a delete the local event it ends.
        let state = isDelete
            ? "deletes \(item.lastEventID?.uuidString.lowercased() ?? "-")"
            : "\(data.studentId) \(data.active) \(Timestamp.parse(data.addedAt).map(Timestamp.format) ?? data.addedAt)"
        let id = SyntheticEventID.make(tenant: tenant, enrollmentID: item.studentPeriodID, kind: item.kind, state: state)
        let signature = options.signature?.sign(eventID: id.uuidString.lowercased())
        let body = WebhookEnvelope.body(id: id, type: type, tenant: tenant, timestampMillis: millis, signature: signature, data: data)
        return Entry(eventID: id, kind: item.kind, eventType: type, studentPeriodID: item.studentPeriodID, periodID: item.periodID,
                     outcome: .stored, deliveryState: nil, body: body, eventTime: millis)
    }

    /// The periods (and the group of unknown period) whose deletes exceed the limit, or whose
    /// roster came back empty while enrollments of theirs exist locally.
    private func heldPeriods(_ items: [StoredDriftItem], run: RunRecord, store: RunStore, connection: Connection) throws -> Set<Int?> {
        let deletes = Dictionary(grouping: items.filter { $0.kind == "missed_delete" }, by: \.periodID).mapValues(\.count)
        guard !deletes.isEmpty else { return [] }
        var local: [Int?: Int] = [:]
        for row in try connection.query(
            "SELECT period_id, count(*) FROM \(quoteIdentifier(options.schema)).enrollment_periods WHERE tenant = $1 GROUP BY period_id",
            [run.tenant]
        ).rows {
            let (period, count) = try row.decode(Int.self, Int.self)
            local[period] = count
            local[nil, default: 0] += count
        }
        let emptyRosters = Set(try store.periodReads(runID: run.runID, on: connection).filter { $0.readOK && $0.enrollments == 0 }.map(\.periodID))
        var held: Set<Int?> = []
        for (period, count) in deletes {
            let base = local[period] ?? 0
            if options.maxDeletes.isExceeded(deletes: count, localEnrollments: base) || period.map(emptyRosters.contains) == true {
                held.insert(period)
            }
        }
        return held
    }

    // MARK: - Store

    private func enrollmentsWithNewerEvents(_ ids: [Int], tenant: String, since: Date, connection: Connection) throws -> Set<Int> {
        guard !ids.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT DISTINCT (payload->'data'->>'id')::bigint FROM \(quoteIdentifier(options.schema)).webhook_events
            WHERE tenant = $1 AND event_type LIKE 'STUDENT\\_PERIOD\\_%' AND source <> 'backfill'
              AND (payload->'data'->'id') IN (SELECT to_jsonb(id) FROM unnest($2::bigint[]) id)
              AND (received_at > $3 OR event_time > $3)
            """, [tenant, "{" + ids.map(String.init).joined(separator: ",") + "}", since]).rows
        return Set(try rows.map { try $0.decode(Int.self, at: 0) })
    }

    /// Stores a batch in one transaction; returns the ids that were new.
    private func write(_ batch: [Entry], run: RunRecord, connection: Connection) throws -> Set<UUID> {
        let s = quoteIdentifier(options.schema)
        return try connection.transaction { session in
            try session.execute("CREATE TEMPORARY TABLE IF NOT EXISTS backfill_staging (event_id uuid, student_period_id bigint, kind text, event_type text, event_time timestamptz, signature_valid boolean, body text) ON COMMIT DELETE ROWS")
            try session.copyIn("COPY pg_temp.backfill_staging FROM STDIN") { writer in
                for entry in batch {
                    try writer.row([entry.eventID, entry.studentPeriodID, entry.kind, entry.eventType,
                                    Date(timeIntervalSince1970: Double(entry.eventTime) / 1000), options.signature.map { _ in true }, entry.body])
                }
            }
            let inserted = try session.query("""
                INSERT INTO \(s).webhook_events (event_id, tenant, event_type, event_time, signature, signature_valid, payload, body, source)
                SELECT event_id, $1, event_type, event_time, body::jsonb->>'signature', signature_valid, body::jsonb, body, 'backfill'
                FROM pg_temp.backfill_staging
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id
                """, [run.tenant]).rows.map { try $0.decode(UUID.self, at: 0) }
            try session.execute("""
                INSERT INTO \(s).backfill_events (event_id, run_id, student_period_id, kind)
                SELECT event_id, $1, student_period_id, kind FROM pg_temp.backfill_staging
                ON CONFLICT (event_id) DO NOTHING
                """, [run.runID])
            return Set(inserted)
        }
    }

    private func deliveryStates(run: RunRecord, connection: Connection) throws -> [UUID: String] {
        let rows = try connection.query(
            "SELECT event_id, delivery_state FROM \(quoteIdentifier(options.schema)).backfill_events WHERE run_id = $1", [run.runID]
        ).rows
        return Dictionary(try rows.map { (try $0.decode(UUID.self, at: 0), try $0.decode(String.self, at: 1)) }, uniquingKeysWith: { $1 })
    }

    // MARK: - Delivery

    /// Delivers the run's events that are not delivered yet: in event-time order per enrollment,
    /// enrollments side by side up to the sender's concurrency. States are written in one
    /// statement at the end; a crash before it only means those events are sent again, and a
    /// receiver keeps an event id once.
    private func deliver(run: RunRecord, sender: WebhookSender, connection: Connection) async throws -> [UUID: WebhookSender.Result] {
        let s = quoteIdentifier(options.schema)
        let pending = try connection.query("""
            SELECT b.event_id, b.student_period_id, w.body FROM \(s).backfill_events b JOIN \(s).webhook_events w USING (event_id)
            WHERE b.run_id = $1 AND b.delivery_state <> 'delivered'
            ORDER BY b.student_period_id, w.event_time, b.event_id
            """, [run.runID]).rows.map { (try $0.decode(UUID.self, at: 0), try $0.decode(Int.self, at: 1), try $0.decode(String.self, at: 2)) }
        let byEnrollment = Dictionary(grouping: pending, by: \.1).values.map { $0 }
        var results: [UUID: WebhookSender.Result] = [:]
        await withTaskGroup(of: [(UUID, WebhookSender.Result)].self) { group in
            var next = byEnrollment.makeIterator()
            func addNext() -> Bool {
                guard let events = next.next() else { return false }
                group.addTask {
                    var done: [(UUID, WebhookSender.Result)] = []
                    for (id, _, body) in events { done.append((id, await sender.deliver(body))) }
                    return done
                }
                return true
            }
            for _ in 0..<max(1, sender.configuration.concurrency) where !addNext() { break }
            for await done in group {
                for (id, result) in done { results[id] = result }
                options.deliveryProgress?(results.count, pending.count)
                _ = addNext()
            }
        }
        guard !results.isEmpty else { return results }
        let ids = results.keys.map { $0 }
        try connection.execute("""
            UPDATE \(s).backfill_events b
            SET delivery_state = CASE WHEN r.delivered THEN 'delivered' ELSE 'failed' END,
                attempts = b.attempts + r.attempts, last_error = r.error,
                delivered_at = CASE WHEN r.delivered THEN now() END
            FROM unnest($1::uuid[], $2::boolean[], $3::int[], $4::text[]) AS r(event_id, delivered, attempts, error)
            WHERE b.event_id = r.event_id
            """, [
                Self.array(ids.map { $0.uuidString.lowercased() }),
                Self.array(ids.map { results[$0]!.delivered ? "t" : "f" }),
                Self.array(ids.map { String(results[$0]!.attempts) }),
                Self.array(ids.map { results[$0]!.lastError }),
            ])
        return results
    }

    /// A PostgreSQL array literal of text elements, each quoted; `nil` is NULL.
    static func array(_ values: [String?]) -> String {
        "{" + values.map { value in
            value.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" } ?? "NULL"
        }.joined(separator: ",") + "}"
    }
}

public enum BackfillError: Error, Sendable, CustomStringConvertible {
    case noSuchRun(Int64)
    case runNotFinished(Int64, String)

    public var description: String {
        switch self {
        case .noSuchRun(let id): "there is no run \(id)"
        case .runNotFinished(let id, let status): "run \(id) is \(status): only a finished run (ok, drift or incomplete) can be backfilled"
        }
    }
}
