import Foundation
import Models
import Reconciliation
import Testing

@Suite struct ReconcilerTests {
    static let now = Timestamp.parse("2026-12-01T12:00:00Z")!
    let reconciler = Reconciler(settleCutoff: now.addingTimeInterval(-900))
    static let period = Period(id: 1, name: "2026/27", startDate: "2026-09-01", endDate: "2027-07-31")

    static func row(_ id: Int, student: Int = 500, active: Bool = true, addedAt: String = "2026-09-02T08:00:00.000+00:00") -> Enrollment {
        Enrollment(id: id, studentId: student, active: active, addedAt: addedAt)
    }

    static func event(_ kind: LocalEvent.Kind, _ row: Enrollment, at millis: Int64 = 1_790_000_000_000, id: UUID = UUID()) -> LocalEvent {
        LocalEvent(eventID: id, kind: kind, timeMillis: millis, enrollmentID: row.id, record: kind == .deleted ? nil : EnrollmentRecord(row))
    }

    func reconcile(_ events: [LocalEvent], _ rows: [Enrollment], reads: [Int: RemoteRoster.Read]? = nil, periods: [Period] = [period],
                   all: Bool = true, known: [Int: Int] = [:]) -> Reconciler.Result {
        let roster = RemoteRoster(periods: periods, reads: reads ?? [1: .complete(rows)], scopeIsAllPeriods: all)
        return reconciler.reconcile(local: EventFold.fold(events).states, roster: roster, knownPeriods: known)
    }

    @Test func everyKindOfDrift() {
        let kept = Self.row(1), changed = Self.row(2, active: false), created = Self.row(3), stale = Self.row(4), gone = Self.row(5)
        let events = [
            Self.event(.created, kept), Self.event(.created, Self.row(2, active: true)), Self.event(.created, stale),
            Self.event(.deleted, stale, at: 1_790_000_000_001), Self.event(.created, gone),
        ]
        let result = reconcile(events, [kept, changed, created, stale], known: [5: 1])
        #expect(result.items.map(\.kind) == [.missedCreate, .missedUpdate, .missedDelete, .staleDelete])
        #expect(result.items.map(\.enrollmentID) == [3, 2, 5, 4])
        #expect(result.items[1].changedFields == ["active"])
        #expect(result.inSync == 1)
    }

    @Test func addedAtIsComparedAsAnInstant() {
        let local = Self.row(1, addedAt: "2024-10-02T09:40:02.179+00:00")
        let remote = Self.row(1, addedAt: "2024-10-02T09:40:02.179Z")
        #expect(reconcile([Self.event(.created, local)], [remote]).items.isEmpty)
        let later = Self.row(1, addedAt: "2024-10-02T11:40:02.179+01:00")
        #expect(reconcile([Self.event(.created, local)], [later]).items.map(\.changedFields) == [["addedAt"]])
    }

    @Test func outOfOrderDeliveryFoldsByEventTime() {
        let row = Self.row(1)
        // DELETED stored before the CREATED it follows; UPDATED before CREATED.
        let deleted = [Self.event(.deleted, row, at: 2_000), Self.event(.created, row, at: 1_000)]
        #expect(EventFold.fold(deleted).states[1]?.isDeleted == true)
        let updated = [Self.event(.updated, Self.row(1, active: false), at: 2_000), Self.event(.created, row, at: 1_000)]
        #expect(EventFold.fold(updated).states[1]?.record?.active == false)
        // Same time: CREATED < UPDATED < DELETED.
        let tie = [Self.event(.deleted, row, at: 5), Self.event(.updated, row, at: 5), Self.event(.created, row, at: 5)]
        #expect(EventFold.fold(tie).states[1]?.lastEvent.kind == .deleted)
    }

    @Test func duplicatesChangeNothing() {
        let event = Self.event(.created, Self.row(1))
        let fold = EventFold.fold([event, event, event])
        #expect(fold.states.count == 1)
        #expect(fold.eventsFolded == 3)
        #expect(reconcile([event, event], [Self.row(1)]).inSync == 1)
    }

    @Test func aFailedPeriodIsNeverDiffed() {
        let other = Period(id: 2, name: "2025/26")
        let events = [Self.event(.created, Self.row(1)), Self.event(.created, Self.row(7))]
        let result = reconcile(events, [], reads: [1: .failed("HTTP 503"), 2: .complete([])], periods: [Self.period, other], known: [1: 1])
        #expect(result.items.isEmpty)
        // Enrollment 1's period failed; 7's period is unknown and the read is incomplete.
        #expect(result.unverified == 2)
    }

    @Test func anUnknownPeriodIsADeleteOnlyWhenEverythingWasRead() {
        let events = [Self.event(.created, Self.row(9))]
        #expect(reconcile(events, [], all: true).items.map(\.kind) == [.missedDelete])
        #expect(reconcile(events, [], all: false).unverified == 1)
        let subset = reconcile(events, [], all: false, known: [9: 42])
        #expect(subset.outOfScope == 1)
        #expect(subset.items.isEmpty)
    }

    @Test func theSettleWindowHoldsBackRecentChanges() {
        let recent = Int64(Self.now.timeIntervalSince1970 * 1000) - 60_000
        let justAdded = Self.row(2, addedAt: Timestamp.formatMilliseconds(Self.now.addingTimeInterval(-120)))
        let result = reconcile([Self.event(.created, Self.row(1, active: false), at: recent)], [Self.row(1), justAdded])
        #expect(result.items.isEmpty)
        #expect(result.inFlight == 2)
    }

    @Test func inactiveRowsAreEnrollmentsToo() {
        let inactive = Self.row(1, active: false)
        #expect(reconcile([], [inactive]).items.map(\.kind) == [.missedCreate])
        #expect(reconcile([Self.event(.created, inactive)], [inactive]).inSync == 1)
    }

    // MARK: - Generated cases

    /// A school's history as events, and the roster it ends in.
    static func history(seed: UInt64) -> (events: [LocalEvent], rows: [Enrollment]) {
        var random = SeededRandom(seed: seed)
        var events: [LocalEvent] = []
        var rows: [Enrollment] = []
        for id in 1...Int.random(in: 1...40, using: &random) {
            var row = Self.row(id, student: Int.random(in: 1...30, using: &random), active: true)
            var time = Int64.random(in: 1_700_000_000_000...1_780_000_000_000, using: &random)
            events.append(Self.event(.created, row, at: time, id: UUID(random: &random)))
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                time += Int64.random(in: 1...86_400_000, using: &random)
                row.active.toggle()
                events.append(Self.event(.updated, row, at: time, id: UUID(random: &random)))
            }
            if Int.random(in: 0..<4, using: &random) == 0 {
                events.append(Self.event(.deleted, row, at: time + 1, id: UUID(random: &random)))
            } else {
                rows.append(row)
            }
        }
        events.shuffle(using: &random)
        return (events, rows)
    }

    @Test(arguments: 1...60 as ClosedRange<UInt64>)
    func eventsThatMirrorTheRosterGiveNoDrift(seed: UInt64) {
        let (events, rows) = Self.history(seed: seed)
        let result = reconcile(events, rows)
        #expect(result.items.isEmpty)
        #expect(result.inSync == rows.count)
    }

    @Test(arguments: 1...30 as ClosedRange<UInt64>)
    func droppingOneEventGivesExactlyTheDriftExpected(seed: UInt64) {
        let (events, rows) = Self.history(seed: seed)
        let remote = Dictionary(uniqueKeysWithValues: rows.map { ($0.id, $0) })
        for index in events.indices {
            var kept = events
            let dropped = kept.remove(at: index)
            let result = reconcile(kept, rows)
            // What the drift must be, from the enrollment's remaining events alone.
            let remaining = kept.filter { $0.enrollmentID == dropped.enrollmentID }
            let last = remaining.max { $0.timeMillis < $1.timeMillis }
            let expected: DriftKind?
            switch (last, remote[dropped.enrollmentID]) {
            case (nil, .some): expected = .missedCreate
            case (nil, nil): expected = nil
            case (let last?, .some) where last.kind == .deleted: expected = .staleDelete
            case (let last?, let row?): expected = last.record?.active == row.active ? nil : .missedUpdate
            case (let last?, nil): expected = last.kind == .deleted ? nil : .missedDelete
            }
            #expect(result.items.map(\.kind) == (expected.map { [$0] } ?? []), "seed \(seed), dropped \(dropped.kind) of \(dropped.enrollmentID)")
            #expect(result.items.allSatisfy { $0.enrollmentID == dropped.enrollmentID })
        }
    }
}
