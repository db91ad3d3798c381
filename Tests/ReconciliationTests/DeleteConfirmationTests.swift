import Foundation
import Models
import Reconciliation
import Testing

/// The confirmation of deletes, and the settings the core parses. Pure: no database, no server.
@Suite struct DeleteConfirmationTests {
    static let cutoff = Date(timeIntervalSince1970: 2_000_000_000)
    static let periods = [Period(id: 1), Period(id: 2), Period(id: 3)]

    static func row(_ id: Int) -> Enrollment {
        Enrollment(id: id, studentId: id + 1000, active: true, addedAt: "2024-01-01T00:00:00.000+00:00")
    }

    static func result(deletes: [(id: Int, period: Int?)], keep: [DriftItem] = []) -> Reconciler.Result {
        var result = Reconciler.Result()
        result.items = keep + deletes.map { DriftItem(kind: .missedDelete, enrollmentID: $0.id, periodID: $0.period, lastEvent: nil, remote: nil) }
        return result
    }

    @Test func aCleanNightReadsNothingTwice() {
        let update = DriftItem(kind: .missedUpdate, enrollmentID: 9, periodID: 1, lastEvent: nil, remote: nil)
        let roster = RemoteRoster(periods: Self.periods, reads: [:], scopeIsAllPeriods: true)
        #expect(Reconciler.periodsToConfirm(Self.result(deletes: [], keep: [update]), roster: roster).isEmpty)
    }

    @Test func onlyThePeriodsOfTheCandidatesAreReadAgainUnlessOneHasNoKnownPeriod() {
        let roster = RemoteRoster(periods: Self.periods, reads: [:], scopeIsAllPeriods: true)
        #expect(Reconciler.periodsToConfirm(Self.result(deletes: [(5, 3), (6, 3)]), roster: roster) == [Period(id: 3)])
        #expect(Reconciler.periodsToConfirm(Self.result(deletes: [(5, 3), (6, nil)]), roster: roster) == Self.periods)
    }

    @Test func aDeleteIsKeptOnlyWhenTheSecondReadAgrees() {
        let candidates = Self.result(deletes: [(10, 1), (11, 1), (20, 2), (30, nil)])
        let confirming = RemoteRoster(
            periods: [Period(id: 1), Period(id: 2)],
            reads: [1: .complete([Self.row(11)]), 2: .failed("HTTP 503")],
            scopeIsAllPeriods: false
        )
        let confirmed = Reconciler.confirmDeletes(candidates, confirming: confirming)
        // 10: gone in both reads. 11: back in the second read. 20: second read failed. 30: no
        // known period, and not every period was read again whole.
        #expect(confirmed.items.map(\.enrollmentID) == [10])
        #expect(confirmed.changedDuringRun == 1)
        #expect(confirmed.learnedPeriods[11] == 1)
        #expect(confirmed.unverified == 2)
    }

    @Test func aDeleteOfUnknownPeriodIsConfirmedByAWholeSecondReadOfEveryPeriod() {
        let candidates = Self.result(deletes: [(30, nil), (31, nil)])
        let confirming = RemoteRoster(
            periods: Self.periods, reads: [1: .complete([]), 2: .complete([Self.row(31)]), 3: .complete([])], scopeIsAllPeriods: true
        )
        let confirmed = Reconciler.confirmDeletes(candidates, confirming: confirming)
        #expect(confirmed.items.map(\.enrollmentID) == [30])
        #expect(confirmed.changedDuringRun == 1)
    }

    @Test func otherKindsPassThrough() {
        let create = DriftItem(kind: .missedCreate, enrollmentID: 1, periodID: 1, lastEvent: nil, remote: nil)
        let confirmed = Reconciler.confirmDeletes(Self.result(deletes: [], keep: [create]), confirming: RemoteRoster(periods: [], reads: [:], scopeIsAllPeriods: false))
        #expect(confirmed.items == [create])
    }

    @Test(arguments: [("25", DeleteLimit.count(25)), ("10%", .percent(10)), (" 0 ", .count(0)), ("100%", .percent(100))])
    func deleteLimitsThatParse(text: String, limit: DeleteLimit) {
        #expect(DeleteLimit(text) == limit)
    }

    @Test(arguments: ["lots", "-1", "101%", "nan%", "inf%", "1e3", "", "%", "99999999999999999999"])
    func deleteLimitsThatDoNot(text: String) {
        #expect(DeleteLimit(text) == nil)
    }
}
