import Foundation
import Models

/// The evidence behind one enrollment's drift, from its stored events to its backfill: what
/// `explain` prints. Pure: the store reads the evidence, this judges it with the fold's own rules
/// (``EventUsability``, ``EventFold``, ``LocalEvent/decider(against:)``), never a second copy of them.
public struct Explanation: Sendable {
    /// What the store holds about the enrollment.
    public struct Evidence: Sendable {
        public var tenant: String
        public var enrollmentID: Int
        /// Every stored event of the tenant whose `data.id` is the enrollment's, any family.
        public var events: [StoredEvent]
        /// The tenant's kept fold state of the enrollment, and the horizon it is complete up to.
        public var kept: EventFold.State?
        public var horizon: Int64?
        /// The run explained (`nil`: the tenant has no complete run).
        public var run: RunRecord?
        /// The run's drift item of the enrollment, when it had one.
        public var item: StoredDriftItem?
        /// The enrollment's period: the item's, else what the store learned from roster reads.
        public var periodID: Int?
        /// How the run read that period (`nil`: the run did not read it).
        public var periodRead: PeriodReadRecord?
        /// Whether the run read every period of the school whole (what a period not known needs).
        public var allPeriodsRead: Bool
        /// Later complete runs of the same scope, oldest first.
        public var later: [LaterRun]
        /// What the latest backfill of the run did with the item.
        public var repair: RepairRecord?
        /// The run's settle window: a change newer than this at the run was in flight.
        public var settleSeconds: Double?

        public init(tenant: String, enrollmentID: Int, events: [StoredEvent], kept: EventFold.State? = nil, horizon: Int64? = nil,
                    run: RunRecord? = nil, item: StoredDriftItem? = nil, periodID: Int? = nil, periodRead: PeriodReadRecord? = nil,
                    allPeriodsRead: Bool = false, later: [LaterRun] = [], repair: RepairRecord? = nil, settleSeconds: Double? = nil) {
            self.tenant = tenant
            self.enrollmentID = enrollmentID
            self.events = events
            self.kept = kept
            self.horizon = horizon
            self.run = run
            self.item = item
            self.periodID = periodID
            self.periodRead = periodRead
            self.allPeriodsRead = allPeriodsRead
            self.later = later
            self.repair = repair
            self.settleSeconds = settleSeconds
        }
    }

    /// A complete run after the one explained, and what it said of the enrollment.
    public struct LaterRun: Sendable, Equatable {
        public var runID: Int64
        /// Its drift kind for the enrollment; `nil` when it had no drift item for it.
        public var kind: String?
        /// Whether it read the enrollment's period whole (`nil`: the period is not known).
        public var periodReadWhole: Bool?

        public init(runID: Int64, kind: String?, periodReadWhole: Bool?) {
            self.runID = runID
            self.kind = kind
            self.periodReadWhole = periodReadWhole
        }
    }

    /// Why one stored event counts or does not.
    public enum Ruling: Sendable, Equatable {
        /// The fold's winner: what the school's systems believe.
        case counts
        /// Its event time is before the winner's.
        case older
        /// Same event time; a lower type (CREATED < UPDATED < DELETED).
        case lowerType
        /// Same time, type and data as the winner, under another id: a re-delivery.
        case redelivery
        /// Same time and type, other data: the greater event id wins the tie.
        case lowerEventID
        case unsigned(String)
        case unusable(String)
        case otherFamily

        /// A short name, for JSON.
        public var name: String {
            switch self {
            case .counts: "counts"
            case .older: "older"
            case .lowerType: "lower_type"
            case .redelivery: "redelivery"
            case .lowerEventID: "lower_event_id"
            case .unsigned: "bad_signature"
            case .unusable: "unusable_data"
            case .otherFamily: "other_family"
            }
        }

        /// The sentence a person reads.
        public var sentence: String {
            switch self {
            case .counts: "counts: the fold's winner"
            case .older: "older than the event that counts"
            case .lowerType: "same time as the event that counts, and a lower type (CREATED < UPDATED < DELETED)"
            case .redelivery: "a re-delivery of the event that counts: same time, type and data under another id"
            case .lowerEventID: "same time and type as the event that counts, other data: the greater event id wins the tie"
            case .unsigned(let reason): "left out: bad signature (\(reason))"
            case .unusable(let reason): "left out: \(reason)"
            case .otherFamily: "another event family with the same id: the fold does not read it"
            }
        }
    }

    public struct ListedEvent: Sendable, Equatable {
        public var event: StoredEvent
        public var ruling: Ruling
    }

    /// What the school's systems believe, and whether the kept state agrees with the events.
    public struct Belief: Sendable, Equatable {
        /// The winner of a fold of every listed event.
        public var folded: LocalEvent?
        /// The state the last run kept.
        public var kept: LocalEvent?
        /// What the next run believes: the kept state with the events stored since its horizon.
        public var next: LocalEvent?
        /// A kept state that a fold of the events contradicts: a defect of the store or the fold.
        public var defect: String?
        /// How the check went, in a sentence.
        public var check: String
    }

    /// The run's conclusion about the enrollment.
    public struct Verdict: Sendable, Equatable {
        /// A drift kind, or `in_sync`, `in_flight`, `unverified`, `out_of_scope`, `not_known`, `no_run`.
        public var kind: String
        public var sentence: String
        /// The run that first saw this drift.
        public var firstSeenRun: Int64?
        /// What each later complete run said: `persisting`, `now <kind>`, `resolved`, `not verified`.
        public var since: [(runID: Int64, state: String)]

        public static func == (a: Verdict, b: Verdict) -> Bool {
            a.kind == b.kind && a.sentence == b.sentence && a.firstSeenRun == b.firstSeenRun
                && a.since.map(\.runID) == b.since.map(\.runID) && a.since.map(\.state) == b.since.map(\.state)
        }
    }

    /// What was done to repair it.
    public struct Repair: Sendable, Equatable {
        /// `none_needed`, `not_backfilled`, or the backfill's decision (`stored`, `held`, ...).
        public var state: String
        public var sentence: String
        public var record: RepairRecord?
    }

    public var evidence: Evidence
    /// Oldest first.
    public var events: [ListedEvent]
    public var belief: Belief
    public var verdict: Verdict
    public var repair: Repair

    public init(_ evidence: Evidence) {
        self.evidence = evidence
        let judged = Self.judge(evidence.events)
        events = judged.events
        belief = Self.belief(winner: judged.winner, usable: judged.usable, kept: evidence.kept?.lastEvent, horizon: evidence.horizon)
        // What the run could have seen: the events stored before it ended.
        let end = evidence.run.map { $0.finishedAt ?? $0.startedAt } ?? .distantFuture
        let seen = judged.usable.filter { ($0.0.receivedAt ?? .distantPast) <= end }.map(\.1)
        verdict = Self.verdict(evidence, believed: EventFold.fold(seen).states.values.first?.lastEvent)
        repair = Self.repair(evidence)
    }

    /// Each event's ruling against the fold's winner, oldest first.
    static func judge(_ stored: [StoredEvent]) -> (events: [ListedEvent], winner: LocalEvent?, usable: [(StoredEvent, LocalEvent)]) {
        let judged = stored.map { ($0, EventUsability($0)) }
        let usable = judged.compactMap { event, usability -> (StoredEvent, LocalEvent)? in
            if case .usable(let local) = usability { return (event, local) }
            return nil
        }
        let winner = EventFold.fold(usable.map(\.1)).states.values.first?.lastEvent
        let events = judged.map { event, usability in
            let ruling: Ruling = switch usability {
            case .unsigned(let reason): .unsigned(reason)
            case .unusable(let reason): .unusable(reason)
            case .otherFamily: .otherFamily
            case .usable(let local): rule(local, against: winner!)
            }
            return ListedEvent(event: event, ruling: ruling)
        }
        let ordered = events.sorted {
            ($0.event.timeMillis, $0.event.receivedAt ?? .distantPast, $0.event.eventID.uuidString)
                < ($1.event.timeMillis, $1.event.receivedAt ?? .distantPast, $1.event.eventID.uuidString)
        }
        return (ordered, winner, usable)
    }

    /// The rule that made `event` lose to `winner`: the fold's own order decides.
    static func rule(_ event: LocalEvent, against winner: LocalEvent) -> Ruling {
        switch event.decider(against: winner) {
        case .none: .counts
        case .time: .older
        case .kind: .lowerType
        case .eventID: event.record == winner.record ? .redelivery : .lowerEventID
        }
    }

    /// The kept state checked against the events: the next run folds the events stored since the
    /// horizon into the kept state, and that must equal a fold of every event.
    static func belief(winner: LocalEvent?, usable: [(StoredEvent, LocalEvent)], kept: LocalEvent?, horizon: Int64?) -> Belief {
        guard let horizon else {
            return Belief(folded: winner, kept: nil, next: winner, defect: nil,
                          check: "no run has kept a fold state for this tenant yet: the next run folds every event")
        }
        let newer = usable.filter { stored, _ in (stored.insertedXID ?? Int64.min) >= horizon }.map(\.1)
        var fold = EventFold()
        if let kept { fold.add(kept) }
        for event in newer { fold.add(event) }
        let next = fold.states.values.first?.lastEvent
        var belief = Belief(folded: winner, kept: kept, next: next, defect: nil, check: "")
        if next == winner {
            belief.check = kept == nil
                ? "no kept state: every event of it was stored after the last run"
                : next == kept ? "the kept state equals a fold of these events"
                : "the kept state and \(newer.count) event(s) stored since the last run fold to the same winner as these events"
        } else {
            belief.defect = "the kept state (\(kept.map(describe) ?? "none")) and the events stored since its horizon fold to "
                + "\(next.map(describe) ?? "nothing"), but a fold of the stored events gives \(winner.map(describe) ?? "nothing")"
            belief.check = "DEFECT: \(belief.defect!)"
        }
        return belief
    }

    static func describe(_ event: LocalEvent) -> String {
        "\(event.kind.eventType) \(event.eventID.uuidString.lowercased()) at \(Timestamp.display(Date(timeIntervalSince1970: Double(event.timeMillis) / 1000)))"
    }

    static func verdict(_ evidence: Evidence, believed: LocalEvent?) -> Verdict {
        guard let run = evidence.run else {
            return Verdict(kind: "no_run", sentence: "no complete run of tenant \"\(evidence.tenant)\" to explain: run `dreamclass-reconcile run` first",
                           firstSeenRun: nil, since: [])
        }
        let since = evidence.later.map { later -> (Int64, String) in
            let state: String = switch (later.kind, later.periodReadWhole) {
            case (let kind?, _) where kind == evidence.item?.kind: "persisting"
            case (let kind?, _): "now \(kind)"
            case (nil, false?): "not verified (its period was not read whole)"
            case (nil, _): evidence.item == nil ? "no drift" : "resolved"
            }
            return (later.runID, state)
        }
        if let item = evidence.item {
            return Verdict(kind: item.kind, sentence: DriftReason.sentence(item), firstSeenRun: item.firstSeenRun, since: since)
        }
        let period = evidence.periodID.map { "period \($0)" } ?? "its period (not known to the store)"
        let (kind, sentence): (String, String)
        if let read = evidence.periodRead, !read.readOK || read.confirmingRead == false {
            (kind, sentence) = ("unverified", "run \(run.runID) could not read \(period) whole (\(read.error ?? "not read")): nothing was claimed about it")
        } else if evidence.periodID != nil, evidence.periodRead == nil {
            (kind, sentence) = ("out_of_scope", "run \(run.runID) (scope \(run.scope)) did not read \(period)")
        } else if evidence.periodID == nil, !evidence.allPeriodsRead {
            (kind, sentence) = ("unverified", "its period is not known, and run \(run.runID) did not read every period whole: nothing was claimed about it")
        } else if believed == nil {
            (kind, sentence) = ("not_known", "we hold no usable event for it, and run \(run.runID) found no drift for it: DreamClass did not list it in \(period) either")
        } else if let believed, let settle = evidence.settleSeconds,
                  Double(believed.timeMillis) / 1000 > run.startedAt.timeIntervalSince1970 - settle {
            (kind, sentence) = ("in_flight", "its last event (\(describe(believed))) was within the settle window of run \(run.runID): a change still in flight is not drift")
        } else {
            let agreement = believed?.kind == .deleted ? "deleted on both sides" : "DreamClass and the events agree"
            (kind, sentence) = ("in_sync", "run \(run.runID) read \(period) whole and found no drift: \(agreement)")
        }
        return Verdict(kind: kind, sentence: sentence, firstSeenRun: nil, since: since)
    }

    static func repair(_ evidence: Evidence) -> Repair {
        guard let item = evidence.item, let run = evidence.run else {
            return Repair(state: "none_needed", sentence: "no drift to repair", record: nil)
        }
        guard var record = evidence.repair else {
            return Repair(state: "not_backfilled", sentence: "no backfill of run \(run.runID) yet: `dreamclass-reconcile backfill --run \(run.runID)` writes \(BackfillPlan.repair(item).eventType)", record: nil)
        }
        // A held or skipped item's event was never stored: its type is the plan's.
        if record.eventType == nil { record.eventType = BackfillPlan.repair(item).eventType }
        var sentence: String
        switch BackfillPlan.Decision(rawValue: record.decision) {
        case .stored?, .alreadyStored?:
            sentence = "backfill wrote \(record.eventType ?? "an event") \(record.eventID?.uuidString.lowercased() ?? "")"
            switch record.deliveryState {
            case "delivered"?: sentence += "; delivered" + (record.deliveredAt.map { " at \(Timestamp.display($0))" } ?? "") + " after \(record.attempts ?? 0) attempt(s)"
            case "failed"?: sentence += "; delivery failed after \(record.attempts ?? 0) attempt(s): \(record.lastError ?? "no error recorded")"
            case "pending"?: sentence += "; not delivered yet (backfill --deliver sends it)"
            default: sentence += "; no longer in the store"
            }
        case .held?:
            sentence = "held by the guard: \(record.reason ?? "no reason recorded")"
        case .skippedNewerEvent?:
            sentence = "skipped: \(record.reason ?? "an event for it arrived after the run")"
        case nil:
            sentence = record.decision
        }
        return Repair(state: record.decision, sentence: sentence, record: record)
    }
}
