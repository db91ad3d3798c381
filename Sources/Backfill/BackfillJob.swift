import DreamClassAPI
import EventStore
import FileOutput
import Foundation
import Logging
import Models
import Postgres
import Reconciliation
import Reports
import Signing

/// Writes the events a run found missing into the store, one synthetic `STUDENT_PERIOD_*` event
/// per drift item (which event, and whether, ``BackfillPlan`` decides), and delivers them to the
/// school's webhook endpoint when asked.
public struct BackfillJob: Sendable {
    /// What a backfill is asked to do: which run, how careful with deletes, how to write and deliver.
    public struct Options: Sendable {
        public var schema: String
        public var runID: Int64
        /// Deletes per period above this are held.
        public var maxDeletes: DeleteLimit = .default
        public var allowMassDelete = false
        /// Missed creates the guard suspects are held (a tenant with no stored event, or most of a roster).
        public var createGuard: CreateGuard = .default
        public var allowMassCreate = false
        public var dryRun = false
        /// Events per transaction.
        public var batchSize = 500
        /// Signs the events as DreamClass does (HMAC of the id), when the school's secret is known.
        public var signature: WebhookSignature?
        /// Called as deliveries end: how many are done, of how many (a terminal's progress line).
        public var deliveryProgress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
        /// Where the job writes its report when it ends (`-` is stdout); none when `nil`, or when
        /// it was interrupted (what was done is recorded; the next backfill reports the rest).
        public var reportPath: String?
        /// For a dry run's report: rows to be stored say `would_deliver`.
        public var wouldDeliver = false
        /// The signal that stopped the work, if one did.
        public var interruption: (@Sendable () -> String?)?

        public init(schema: String, runID: Int64) {
            self.schema = schema
            self.runID = runID
        }
    }

    /// What happened to one drift item.
    public struct Entry: Sendable, Equatable {
        /// Stored, already stored, skipped (newer event) or held: see ``BackfillPlan/Decision``.
        public typealias Outcome = BackfillPlan.Decision

        public var eventID: UUID
        public var kind: String
        public var eventType: String
        public var studentPeriodID: Int
        public var periodID: Int?
        public var outcome: Outcome
        /// Why it was held or skipped: the guard and its limit, or the newer event.
        public var reason: String?
        public var deliveryState: String?
        public var body: String
        public var eventTime: Int64
    }

    /// What a backfill did: every drift item's entry, the periods held, and how delivery went.
    public struct Outcome: Sendable {
        public var entries: [Entry]
        /// Periods whose deletes were held; `nil` stands for the enrollments of unknown period.
        public var heldPeriods: [Int?]
        /// Why the missed creates were held, when they were.
        public var createsHeld: CreateGuard.Suspicion?
        public var delivered = 0
        public var deliveryFailed = 0

        /// How many entries ended so.
        public func count(_ outcome: Entry.Outcome) -> Int { entries.filter { $0.outcome == outcome }.count }

        /// Held entries of one drift kind.
        public func held(_ kind: DriftKind) -> Int { entries.filter { $0.outcome == .held && $0.kind == kind.rawValue }.count }

        /// The entries as rows of the backfill report.
        public var reportRows: [BackfillReport.Row] {
            entries.map {
                BackfillReport.Row(eventID: $0.eventID, kind: $0.kind, eventType: $0.eventType, studentPeriodID: $0.studentPeriodID,
                                   periodID: $0.periodID, outcome: $0.outcome.rawValue, deliveryState: $0.deliveryState, reason: $0.reason)
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
            if let createsHeld { text += "\nheld: \(held(.missedCreate)) creates: \(createsHeld)" }
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
        let (runs, store, options) = (RunStore(schema: options.schema), BackfillStore(schema: options.schema), self.options)
        let plan = BackfillPlan(maxDeletes: options.maxDeletes, allowMassDelete: options.allowMassDelete,
                                createGuard: options.createGuard, allowMassCreate: options.allowMassCreate)
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        let (run, entries, held, createsHeld) = try await Blocking.run {
            guard let run = try runs.run(options.runID, on: connection) else { throw BackfillError.noSuchRun(options.runID) }
            guard BackfillPlan.canBackfill(run.status) else { throw BackfillError.runNotFinished(options.runID, run.status.rawValue) }
            let items = try runs.driftItems(runID: run.runID, on: connection)
            let repairs = items.map(BackfillPlan.repair)
            var held: [Int?: String] = [:]
            var createsHeld: CreateGuard.Suspicion?
            if items.contains(where: { $0.kind == DriftKind.missedDelete.rawValue || $0.kind == DriftKind.missedCreate.rawValue }) {
                let local = try store.localEnrollments(tenant: run.tenant, on: connection)
                let emptyRosters = Set(try runs.periodReads(runID: run.runID, on: connection).filter { $0.readOK && $0.enrollments == 0 }.map(\.periodID))
                held = plan.holds(items, localEnrollments: local, emptyRosters: emptyRosters)
                createsHeld = plan.heldCreates(run, localEnrollments: try store.hasEvents(tenant: run.tenant, on: connection) ? max(1, local[nil] ?? 0) : 0)
            }
            let newer = try store.enrollmentsWithNewerEvents(repairs.map(\.studentPeriodID), tenant: run.tenant, since: run.startedAt, on: connection)
            let entries = repairs.map { repair in
                let decision = plan.decide(repair, newerEvents: newer, held: Set(held.keys), createsHeld: createsHeld != nil)
                let reason: String? = switch decision {
                case .held: repair.kind == DriftKind.missedCreate.rawValue ? createsHeld.map { "max_creates: \($0)" } : held[repair.periodID] ?? nil
                case .skippedNewerEvent: "an event for it was stored after run \(run.runID) started (\(Timestamp.display(run.startedAt))): newer truth is not overwritten"
                case .stored, .alreadyStored: nil
                }
                return Self.entry(repair, decision: decision, reason: reason, tenant: run.tenant, millis: millis, signature: options.signature)
            }
            return (run, entries, held, createsHeld)
        }
        var outcome = Outcome(entries: entries, heldPeriods: held.keys.sorted { ($0 ?? -1) < ($1 ?? -1) }, createsHeld: createsHeld)
        guard !options.dryRun else {
            try writeReport(outcome)
            return outcome
        }

        let toStore = entries.indices.filter { entries[$0].outcome == .stored }
        for (number, start) in stride(from: 0, to: toStore.count, by: max(1, options.batchSize)).enumerated() {
            let batch = Array(toStore[start..<min(start + options.batchSize, toStore.count)])
            let events = batch.map { index in
                let entry = entries[index]
                return BackfillStore.Event(
                    eventID: entry.eventID, studentPeriodID: entry.studentPeriodID, kind: entry.kind, eventType: entry.eventType,
                    eventTime: Date(timeIntervalSince1970: Double(entry.eventTime) / 1000),
                    signatureValid: options.signature.map { _ in true }, body: entry.body
                )
            }
            let fresh = try await Blocking.run { try store.store(events, tenant: run.tenant, runID: run.runID, on: connection) }
            for index in batch where !fresh.contains(entries[index].eventID) { outcome.entries[index].outcome = .alreadyStored }
            try afterBatch(number + 1)
        }
        // What this backfill decided for each item, and what it held, is kept with the run: `runs`
        // shows the held counts, `explain` each item's decision.
        try await Blocking.run { [outcome] in
            try runs.recordBackfill(
                runID: run.runID, heldDeletes: outcome.held(.missedDelete), heldCreates: outcome.held(.missedCreate),
                decisions: outcome.entries.map { .init(studentPeriodID: $0.studentPeriodID, decision: $0.outcome.rawValue, reason: $0.reason, eventID: $0.eventID) },
                on: connection
            )
        }
        if let sender {
            let results = try await deliver(run: run, sender: sender, store: store, connection: connection)
            outcome.delivered = results.filter(\.delivered).count
            outcome.deliveryFailed = results.count - outcome.delivered
        }
        let states = try await Blocking.run { try store.deliveryStates(runID: run.runID, on: connection) }
        for index in outcome.entries.indices { outcome.entries[index].deliveryState = states[outcome.entries[index].eventID] }
        try writeReport(outcome)
        return outcome
    }

    /// The report, as a run writes its own: unless the work was interrupted.
    private func writeReport(_ outcome: Outcome) throws {
        guard let path = options.reportPath, options.interruption?() == nil else { return }
        try OutputFile.write(BackfillReport.render(outcome.reportRows, dryRun: options.dryRun, wouldDeliver: options.wouldDeliver), to: path)
    }

    /// The repair with its id (the same repair always gets the same id) and signed body.
    private static func entry(_ repair: BackfillPlan.Repair, decision: Entry.Outcome, reason: String?, tenant: String, millis: Int64, signature: WebhookSignature?) -> Entry {
        let id = SyntheticEventID.make(tenant: tenant, enrollmentID: repair.studentPeriodID, kind: repair.kind, state: repair.identity)
        let body = WebhookEnvelope.body(
            id: id, type: repair.eventType, tenant: tenant, timestampMillis: millis,
            signature: signature?.sign(eventID: id.uuidString.lowercased()), data: repair.data
        )
        return Entry(eventID: id, kind: repair.kind, eventType: repair.eventType, studentPeriodID: repair.studentPeriodID,
                     periodID: repair.periodID, outcome: decision, reason: reason, deliveryState: nil, body: body, eventTime: millis)
    }

    // MARK: - Delivery

    /// Delivers the run's events that are not delivered yet: in event-time order per enrollment,
    /// enrollments side by side up to the sender's concurrency. States are written in one
    /// statement at the end; a crash before it only means those events are sent again, and a
    /// receiver keeps an event id once.
    private func deliver(run: RunRecord, sender: WebhookSender, store: BackfillStore, connection: Connection) async throws -> [BackfillStore.Delivery] {
        let pending = try await Blocking.run { try store.pendingDeliveries(runID: run.runID, on: connection) }
        let byEnrollment = Dictionary(grouping: pending, by: \.studentPeriodID).values.map { $0 }
        var results: [BackfillStore.Delivery] = []
        await withTaskGroup(of: [BackfillStore.Delivery].self) { group in
            var next = byEnrollment.makeIterator()
            func addNext() -> Bool {
                guard let events = next.next() else { return false }
                group.addTask {
                    var done: [BackfillStore.Delivery] = []
                    for event in events {
                        let result = await sender.deliver(event.body)
                        done.append(.init(eventID: event.eventID, delivered: result.delivered, attempts: result.attempts, lastError: result.lastError))
                    }
                    return done
                }
                return true
            }
            for _ in 0..<max(1, sender.configuration.concurrency) where !addNext() { break }
            for await done in group {
                results += done
                options.deliveryProgress?(results.count, pending.count)
                _ = addNext()
            }
        }
        try await Blocking.run { [results] in try store.record(results, on: connection) }
        return results
    }
}
