import Foundation
import Models
import Reconciliation
import Testing

/// What a run records, decided without a database: status, history, figures, period reads.
@Suite struct RunAssemblyTests {
    static let now = Timestamp.parse("2026-12-01T12:00:00Z")!
    static let periods = [Period(id: 1, name: "Autumn"), Period(id: 2, name: "Spring")]

    static func row(_ id: Int, active: Bool = true) -> Enrollment {
        Enrollment(id: id, studentId: 500 + id, active: active, addedAt: "2026-09-02T08:00:00.000+00:00")
    }

    static func created(_ row: Enrollment) -> LocalEvent {
        LocalEvent(eventID: UUID(), kind: .created, timeMillis: 1_700_000_000_000, enrollmentID: row.id, record: EnrollmentRecord(row))
    }

    static func assemble(
        _ events: [LocalEvent], _ reads: [Int: RemoteRoster.Read], runID: Int64 = 7, previous: [Int: StoredDriftItem]? = nil,
        confirmFailures: [Int: String] = [:], students: [Int: StudentLookup] = [:]
    ) -> RunAssembly.Assembled {
        let roster = RemoteRoster(periods: periods, reads: reads, scopeIsAllPeriods: true)
        let result = Reconciler(settleCutoff: now.addingTimeInterval(-900)).reconcile(local: EventFold.fold(events).states, roster: roster, knownPeriods: [:])
        return RunAssembly.assemble(
            runID: runID, tenant: "t", scope: .all, startedAt: now, result: result, roster: roster, confirmFailures: confirmFailures,
            previous: previous, periodNames: [1: "Autumn", 2: "Spring"], students: students,
            events: .init(folded: events.count, unusable: 2, unsigned: 1, other: 3), calls: .init(calls: 9, retries: 1, rereads: 1)
        )
    }

    @Test func inSyncIsOkDriftIsDriftAndTheFiguresAddUp() {
        let a = Self.row(1), b = Self.row(2)
        let clean = Self.assemble([Self.created(a), Self.created(b)], [1: .complete([a]), 2: .complete([b])])
        #expect(clean.record.status == .ok)
        #expect(clean.record.inSync == 2)
        #expect(clean.record.eventsRead == 2 + 2 + 1 + 3)
        #expect(clean.record.eventsSkipped == 3)
        #expect((clean.record.apiCalls, clean.record.apiRetries, clean.record.rosterRereads) == (9, 1, 1))
        #expect(clean.periods.map(\.enrollments) == [1, 1])

        let drift = Self.assemble([Self.created(a)], [1: .complete([a]), 2: .complete([b])], students: [502: .found(Student(id: 502, firstName: "Ada", lastName: "L"))])
        #expect(drift.record.status == .drift)
        #expect(drift.record.missedCreates == 1)
        #expect(drift.items.map(\.studentName) == ["Ada L"])
        #expect(drift.items.map(\.periodName) == ["Spring"])
        #expect(drift.record.error == nil)
    }

    @Test func anUnreadPeriodMakesTheRunIncompleteWhateverItFound() {
        let a = Self.row(1)
        let assembled = Self.assemble([Self.created(a)], [1: .complete([]), 2: .failed("HTTP 503")])
        #expect(assembled.record.status == .incomplete)
        #expect(assembled.record.periodsFailed == 1)
        #expect(assembled.record.error == "period 2: HTTP 503")
        #expect(assembled.periods.map(\.readOK) == [true, false])
    }

    @Test func aFailedConfirmingReadFailsItsPeriod() {
        let a = Self.row(1)
        let assembled = Self.assemble([Self.created(a)], [1: .complete([a]), 2: .complete([])], confirmFailures: [1: "confirming read: HTTP 500"])
        #expect(assembled.record.status == .incomplete)
        #expect(assembled.periods.first?.error == "confirming read: HTTP 500")
        #expect(assembled.record.error == "period 1: confirming read: HTTP 500")
    }

    @Test func aPeriodNeverReadIsNotReadNotOk() {
        let (status, error) = RunAssembly.status(failures: [3: "not read", 1: "HTTP 404"], driftItems: 0)
        #expect(status == .incomplete)
        #expect(error == "period 1: HTTP 404; period 3: not read")
        #expect(RunAssembly.status(failures: [:], driftItems: 0).0 == .ok)
        #expect(RunAssembly.status(failures: [:], driftItems: 1).0 == .drift)
        let missing = Self.assemble([], [1: .complete([])])
        #expect(missing.record.status == .incomplete)
        #expect(missing.periods.last?.error == "not read")
    }

    @Test func historyKeepsTheFirstRunOfAPersistingItemAndCountsTheResolved() {
        let a = Self.row(1), b = Self.row(2), c = Self.row(3)
        var earlierCreate = StoredDriftItem(runID: 3, kind: "missed_create", studentPeriodID: 2, firstSeenRun: 2)
        earlierCreate.periodID = 1
        let earlierUpdate = StoredDriftItem(runID: 3, kind: "missed_update", studentPeriodID: 3, firstSeenRun: 3)
        let resolvedOne = StoredDriftItem(runID: 3, kind: "missed_create", studentPeriodID: 1, firstSeenRun: 1)
        // 1 is now in sync (resolved); 2 is still a missed create (persisting); 3 is now a missed create, not an update (new).
        let assembled = Self.assemble(
            [Self.created(a)], [1: .complete([a, b]), 2: .complete([c])],
            previous: [2: earlierCreate, 3: earlierUpdate, 1: resolvedOne]
        )
        #expect(assembled.items.map(\.studentPeriodID) == [2, 3])
        #expect(assembled.items.map(\.firstSeenRun) == [2, 7])
        #expect((assembled.record.newItems, assembled.record.persistingItems, assembled.record.resolvedItems) == (1, 1, 1))
    }

    @Test func onlyNewOrMovedPeriodsAreRecordedAgain() {
        let learned = [1: 10, 2: 10, 3: 20]
        #expect(RunAssembly.periodsToRecord(learned: learned, known: [:]) == learned)
        #expect(RunAssembly.periodsToRecord(learned: learned, known: [1: 10, 2: 11, 3: 20, 4: 30]) == [2: 10])
    }

    /// Over many seeds and every kind of interleaving (states settling one by one as a full fold
    /// streams, or all at once at the end of an incremental one; rosters arriving before, during
    /// and after), a student is asked for exactly when the second side of a drifted enrollment
    /// arrives, and never for an enrollment in sync or one DreamClass does not list.
    @Test func theEarlyLookupAsksAsSoonAsBothSidesArrived() {
        for seed in 0..<60 {
            var random = SeededRandom(seed: UInt64(seed))
            let ids = Array(1...40)
            var remote: [Int: Enrollment] = [:]
            var states: [Int: EventFold.State] = [:]
            for id in ids {
                let row = Self.row(id, active: Bool.random(using: &random))
                if Int.random(in: 0..<5, using: &random) > 0 { remote[id] = row }
                switch Int.random(in: 0..<5, using: &random) {
                case 0: break  // no local state: a create the store missed, if listed
                case 1: states[id] = EventFold.fold([LocalEvent(eventID: UUID(), kind: .deleted, timeMillis: 1, enrollmentID: id, record: nil)]).states[id]
                default: states[id] = EventFold.fold([Self.created(Self.row(id, active: Bool.random(using: &random)))]).states[id]
                }
            }
            let drifted = Set(remote.values.filter { row in
                states[row.id]?.record.map { !$0.changedFields(comparedWith: EnrollmentRecord(row)!).isEmpty } ?? true
            }.map(\.studentId))
            let streams = Bool.random(using: &random)
            var toSettle = streams ? states.keys.shuffled(using: &random) : []
            var rosters = Array(remote.values.shuffled(using: &random)).chunked(random: &random)
            var early = EarlyDrift()
            var asked: [Int] = []
            var settledSoFar = Set<Int>(), arrivedSoFar = Set<Int>(), foldDone = false
            /// What a step must ask for: the drifted ones whose second side it brought.
            func expectAsked(_ got: [Int], for ids: [Int]) {
                #expect(Set(got) == Set(ids.compactMap { remote[$0]?.studentId }).intersection(drifted), "seed \(seed)")
            }
            while !(toSettle.isEmpty && rosters.isEmpty && foldDone) {
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where !toSettle.isEmpty:
                    let id = toSettle.removeFirst()
                    settledSoFar.insert(id)
                    let got = early.settled(id, states[id]!).map { [$0] } ?? []
                    expectAsked(got, for: arrivedSoFar.contains(id) ? [id] : [])
                    asked += got
                case 1 where !rosters.isEmpty:
                    let rows = rosters.removeFirst()
                    arrivedSoFar.formUnion(rows.map(\.id))
                    let got = early.arrived(rows)
                    expectAsked(got, for: rows.map(\.id).filter { foldDone || settledSoFar.contains($0) })
                    asked += got
                case 2 where toSettle.isEmpty && !foldDone:
                    foldDone = true
                    let got = early.foldFinished(states)
                    expectAsked(got, for: arrivedSoFar.filter { !settledSoFar.contains($0) })
                    asked += got
                default: continue
                }
            }
            #expect(asked.sorted() == drifted.sorted(), "seed \(seed): each drifted student once, none other")
        }
    }
}

private extension Array {
    /// The elements in consecutive chunks of random sizes (1 to 8).
    func chunked(random: inout SeededRandom) -> [[Element]] {
        var chunks: [[Element]] = [], rest = self[...]
        while !rest.isEmpty {
            let size = Int.random(in: 1...8, using: &random)
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return chunks
    }
}
