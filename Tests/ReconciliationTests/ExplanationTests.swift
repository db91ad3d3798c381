import Foundation
import Models
import Reconciliation
import Testing

/// The judging half of `explain`, pure: rulings from the fold's own order, the kept state's check,
/// and the verdict of an enrollment without a drift item.
@Suite struct ExplanationTests {
    static let enrollment = 7

    static func stored(_ type: String, millis: Int64, id: UUID = UUID(), student: Int? = 3, active: Bool? = true,
                       signatureValid: Bool? = nil, xid: Int64? = 10) -> StoredEvent {
        let deleted = type.hasSuffix("DELETED")
        let fields = StoredEvent.Fields(id: enrollment, studentID: student, active: active,
                                        addedAt: deleted ? nil : Date(timeIntervalSince1970: 1_767_225_600))
        return StoredEvent(eventID: id, eventType: type, timeMillis: millis, signatureValid: signatureValid, fields: fields,
                           receivedAt: Date(timeIntervalSince1970: Double(millis) / 1000), insertedXID: xid)
    }

    static func local(_ event: StoredEvent) -> LocalEvent {
        guard case .usable(let local) = EventUsability(event) else { fatalError("unusable test event") }
        return local
    }

    @Test func eachLoserSaysWhichRuleOfTheFoldBeatIt() {
        let low = UUID(uuidString: "00000000-0000-0000-0000-000000000001")!, high = UUID(uuidString: "F0000000-0000-0000-0000-000000000001")!
        let events = [
            Self.stored("STUDENT_PERIOD_CREATED", millis: 1_000),
            Self.stored("STUDENT_PERIOD_CREATED", millis: 5_000),
            Self.stored("STUDENT_PERIOD_UPDATED", millis: 5_000, id: low),
            Self.stored("STUDENT_PERIOD_UPDATED", millis: 5_000, id: high),
            Self.stored("STUDENT_PERIOD_UPDATED", millis: 4_000, id: UUID(), student: nil),
            Self.stored("STUDENT_PERIOD_DELETED", millis: 9_000, signatureValid: false),
            Self.stored("PAYMENT_CREATED", millis: 2_000),
        ]
        let explanation = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: events))
        let rulings = Dictionary(uniqueKeysWithValues: explanation.events.map { ($0.event.eventID, $0.ruling) })
        #expect(rulings[high] == .counts)
        #expect(rulings[low] == .redelivery)
        #expect(rulings[events[0].eventID] == .older)
        #expect(rulings[events[1].eventID] == .lowerType)
        #expect(rulings[events[4].eventID] == .unusable("data.studentId is missing or not an integer"))
        #expect(rulings[events[5].eventID] == .unsigned("signature did not verify"))
        #expect(rulings[events[6].eventID] == .otherFamily)
        // The one that counts is the fold's winner, and the list is oldest first.
        #expect(explanation.belief.folded == EventFold.fold(events.compactMap { if case .usable(let e) = EventUsability($0) { e } else { nil } }).states[Self.enrollment]?.lastEvent)
        #expect(explanation.events.map(\.event.timeMillis) == explanation.events.map(\.event.timeMillis).sorted())

        // Other data in the same millisecond and type: the greater id wins, and it is no re-delivery.
        let other = Self.stored("STUDENT_PERIOD_UPDATED", millis: 5_000, id: low, active: false)
        let tie = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: [other, events[3]]))
        #expect(tie.events.first { $0.event.eventID == low }?.ruling == .lowerEventID)
    }

    @Test func aKeptStateTheEventsContradictIsADefect() {
        let old = Self.stored("STUDENT_PERIOD_CREATED", millis: 1_000, xid: 5)
        let newer = Self.stored("STUDENT_PERIOD_UPDATED", millis: 2_000, active: false, xid: 6)
        // The newer event was stored below the horizon (xid 6 < 8): the last run saw it, and kept the older one.
        let broken = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: [old, newer],
                                       kept: EventFold.State(lastEvent: Self.local(old)), horizon: 8))
        #expect(broken.belief.defect != nil)
        #expect(broken.belief.check.hasPrefix("DEFECT: "))
        // Stored after the horizon: the next run folds it in, and that agrees with the events.
        let later = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: [old, newer],
                                      kept: EventFold.State(lastEvent: Self.local(old)), horizon: 6))
        #expect(later.belief.defect == nil)
        #expect(later.belief.next == Self.local(newer))
        #expect(later.belief.check.contains("stored since the last run"))
        // A kept state with no events under it at all is a defect too.
        let lost = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: [],
                                     kept: EventFold.State(lastEvent: Self.local(old)), horizon: 8))
        #expect(lost.belief.defect != nil)
    }

    @Test func anEnrollmentWithoutDriftGetsTheVerdictItsReadsAllow() {
        let event = Self.stored("STUDENT_PERIOD_CREATED", millis: 1_000)
        let started = Date(timeIntervalSince1970: 100)
        var run = RunRecord(runID: 4, tenant: "t", scope: "all", startedAt: started, status: .ok)
        run.finishedAt = started.addingTimeInterval(5)
        func verdict(periodID: Int? = 2, read: PeriodReadRecord? = nil, all: Bool = true, settle: Double? = 900,
                     later: [Explanation.LaterRun] = [], events: [StoredEvent]? = nil) -> Explanation.Verdict {
            Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: events ?? [event], run: run, periodID: periodID,
                              periodRead: read, allPeriodsRead: all, later: later, settleSeconds: settle)).verdict
        }
        let whole = PeriodReadRecord(periodID: 2, name: nil, readOK: true, enrollments: 10, error: nil)
        #expect(verdict(read: whole, settle: 10).kind == "in_sync")
        #expect(verdict(read: whole, settle: 900).kind == "in_flight")
        #expect(verdict(read: PeriodReadRecord(periodID: 2, name: nil, readOK: false, enrollments: nil, error: "HTTP 503")).kind == "unverified")
        #expect(verdict(read: PeriodReadRecord(periodID: 2, name: nil, readOK: false, enrollments: nil, error: "HTTP 503")).sentence.contains("HTTP 503"))
        #expect(verdict(read: nil).kind == "out_of_scope")
        #expect(verdict(periodID: nil, all: false).kind == "unverified")
        #expect(verdict(read: whole, settle: 10, events: []).kind == "not_known")
        let since = verdict(read: whole, settle: 10, later: [.init(runID: 5, kind: nil, periodReadWhole: false), .init(runID: 6, kind: "missed_delete", periodReadWhole: true)]).since
        #expect(since.map(\.state) == ["not verified (its period was not read whole)", "now missed_delete"])
        let none = Explanation(.init(tenant: "t", enrollmentID: Self.enrollment, events: [event])).verdict
        #expect(none.kind == "no_run")
    }

    @Test func aDriftItemsVerdictIsTheReportsReasonAndItsHistory() {
        var item = StoredDriftItem(runID: 4, kind: "missed_delete", studentPeriodID: Self.enrollment, firstSeenRun: 2)
        item.periodID = 2
        item.lastEventType = "STUDENT_PERIOD_CREATED"
        item.lastEventAt = Date(timeIntervalSince1970: 1)
        item.inConfirmingRead = false
        let run = RunRecord(runID: 4, tenant: "t", scope: "all", startedAt: Date(), status: .drift)
        let explanation = Explanation(.init(
            tenant: "t", enrollmentID: Self.enrollment, events: [Self.stored("STUDENT_PERIOD_CREATED", millis: 1_000)], run: run, item: item,
            periodID: 2, later: [.init(runID: 5, kind: "missed_delete", periodReadWhole: true), .init(runID: 6, kind: nil, periodReadWhole: true)],
            repair: RepairRecord(decision: "held", reason: "5 deletes in period 2 exceed max_deletes 10% of its 20 enrollments in the store")
        ))
        #expect(explanation.verdict.kind == "missed_delete")
        #expect(explanation.verdict.sentence == DriftReason.sentence(item))
        #expect(explanation.verdict.sentence.contains("period 2 (read whole twice)"))
        #expect(explanation.verdict.firstSeenRun == 2)
        #expect(explanation.verdict.since.map(\.state) == ["persisting", "resolved"])
        #expect(explanation.repair.state == "held")
        #expect(explanation.repair.sentence.contains("max_deletes 10%"))
        #expect(explanation.repair.record?.eventType == "STUDENT_PERIOD_DELETED")
    }
}
