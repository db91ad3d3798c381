import Foundation
import Models
import Reconciliation
import Testing

/// Which event repairs which drift, and the mass-delete guard, decided without a database.
@Suite struct BackfillPlanTests {
    static func item(_ kind: DriftKind, _ id: Int, period: Int? = 1) -> StoredDriftItem {
        var item = StoredDriftItem(runID: 1, kind: kind.rawValue, studentPeriodID: id, firstSeenRun: 1)
        item.periodID = period
        item.studentID = 900
        item.localStudentID = 900
        item.localActive = true
        item.localAddedAt = "2026-09-02T08:00:00.000+00:00"
        item.remoteStudentID = 901
        item.remoteActive = false
        item.remoteAddedAt = "2026-09-03T08:00:00.000Z"
        item.lastEventID = UUID(uuidString: "00000000-0000-4000-8000-000000000001")
        return item
    }

    @Test func eachKindOfDriftGetsTheEventThatRepairsIt() {
        let create = BackfillPlan.repair(Self.item(.missedCreate, 1))
        #expect(create.eventType == "STUDENT_PERIOD_CREATED")
        #expect(create.data == Enrollment(id: 1, studentId: 901, active: false, addedAt: "2026-09-03T08:00:00.000Z"))
        #expect(BackfillPlan.repair(Self.item(.missedUpdate, 1)).eventType == "STUDENT_PERIOD_UPDATED")
        #expect(BackfillPlan.repair(Self.item(.staleDelete, 1)).eventType == "STUDENT_PERIOD_CREATED")
        let delete = BackfillPlan.repair(Self.item(.missedDelete, 1))
        #expect(delete.eventType == "STUDENT_PERIOD_DELETED")
        // A delete carries the last local data, and names the event it ends.
        #expect(delete.data == Enrollment(id: 1, studentId: 900, active: true, addedAt: "2026-09-02T08:00:00.000+00:00"))
        #expect(delete.identity == "deletes 00000000-0000-4000-8000-000000000001")
    }

    @Test func theSameRepairHasTheSameIdentityWhateverTheTimestampsSpelling() {
        var other = Self.item(.missedCreate, 1)
        other.remoteAddedAt = "2026-09-03T08:00:00.000+00:00"
        #expect(BackfillPlan.repair(other).identity == BackfillPlan.repair(Self.item(.missedCreate, 1)).identity)
        other.remoteActive = true
        #expect(BackfillPlan.repair(other).identity != BackfillPlan.repair(Self.item(.missedCreate, 1)).identity)
    }

    @Test func deletesAboveTheLimitOrIntoAnEmptyRosterAreHeld() {
        let plan = BackfillPlan(maxDeletes: .percent(10), allowMassDelete: false)
        let items = (1...3).map { Self.item(.missedDelete, $0, period: 1) } + [Self.item(.missedDelete, 9, period: 2), Self.item(.missedCreate, 10, period: 3)]
        // Period 1: 3 of 20 (15 %) held; period 2: 1 of 20 (5 %) passes, unless its roster came back empty.
        let counts: [Int?: Int] = [1: 20, 2: 20, nil: 40]
        #expect(plan.heldPeriods(items, localEnrollments: counts, emptyRosters: []) == [1])
        #expect(plan.heldPeriods(items, localEnrollments: counts, emptyRosters: [2]) == [1, 2])
        #expect(BackfillPlan(maxDeletes: .count(3), allowMassDelete: false).heldPeriods(items, localEnrollments: counts, emptyRosters: []).isEmpty)
        // Deletes of unknown period count against all the tenant's enrollments.
        let unknown = (1...5).map { Self.item(.missedDelete, $0, period: nil) }
        #expect(plan.heldPeriods(unknown, localEnrollments: counts, emptyRosters: []) == [nil])
    }

    @Test func newerTruthWinsThenTheGuardThenStore() {
        let plan = BackfillPlan(maxDeletes: .percent(10), allowMassDelete: false)
        let delete = BackfillPlan.repair(Self.item(.missedDelete, 1))
        let create = BackfillPlan.repair(Self.item(.missedCreate, 2))
        #expect(plan.decide(delete, newerEvents: [1], held: [1]) == .skippedNewerEvent)
        #expect(plan.decide(delete, newerEvents: [], held: [1]) == .held)
        #expect(plan.decide(create, newerEvents: [], held: [1]) == .stored)
        #expect(BackfillPlan(maxDeletes: .percent(10), allowMassDelete: true).decide(delete, newerEvents: [], held: [1]) == .stored)
    }

    @Test func onlyAFinishedRunIsBackfilled() {
        #expect([RunRecord.Status.ok, .drift, .incomplete].allSatisfy(BackfillPlan.canBackfill))
        #expect(![RunRecord.Status.running, .failed, .interrupted, .abandoned].contains(where: BackfillPlan.canBackfill))
    }
}

/// The guard for creates: a tenant with no stored event, or most of a roster missing, is suspect.
@Suite struct CreateGuardTests {
    @Test func noStoredEventMakesAnyCreateSuspect() {
        let suspicion = CreateGuard.default.suspicion(tenant: "t", creates: 1, roster: 1000, localEnrollments: 0)
        #expect(suspicion == .noStoredEvents(tenant: "t", creates: 1))
        #expect(suspicion?.description.contains("misspelled") == true)
        #expect(suspicion?.description.contains("--allow-mass-create") == true)
        #expect(CreateGuard.default.suspicion(tenant: "t", creates: 0, roster: 1000, localEnrollments: 0) == nil)
    }

    @Test func moreThanTheShareOfTheRosterIsSuspectAndNoMore() {
        let guardHalf = CreateGuard.default
        #expect(guardHalf.suspicion(tenant: "t", creates: 50, roster: 100, localEnrollments: 60) == nil)
        #expect(guardHalf.suspicion(tenant: "t", creates: 51, roster: 100, localEnrollments: 60)
            == .tooMany(tenant: "t", creates: 51, roster: 100, maxShare: 50))
        #expect(CreateGuard(maxShare: 100).suspicion(tenant: "t", creates: 100, roster: 100, localEnrollments: 1) == nil)
    }

    @Test func theSettingReadsAShare() {
        #expect(CreateGuard("20%") == CreateGuard(maxShare: 20))
        #expect(CreateGuard("20") == CreateGuard(maxShare: 20))
        for bad in ["most", "-1%", "101%", "", "nan"] { #expect(CreateGuard(bad) == nil, "\(bad)") }
    }

    @Test func aBackfillHoldsSuspectCreatesOnlyUntilAllowed() {
        var run = RunRecord(runID: 1, tenant: "t", scope: "all", startedAt: Date(timeIntervalSince1970: 0), status: .drift)
        run.missedCreates = 10
        run.remoteEnrollments = 10
        let plan = BackfillPlan(maxDeletes: .default, allowMassDelete: false)
        let suspicion = plan.heldCreates(run, localEnrollments: 0)
        #expect(suspicion != nil)
        let create = BackfillPlan.repair(BackfillPlanTests.item(.missedCreate, 1))
        let update = BackfillPlan.repair(BackfillPlanTests.item(.missedUpdate, 2))
        #expect(plan.decide(create, newerEvents: [], held: [], createsHeld: true) == .held)
        #expect(plan.decide(update, newerEvents: [], held: [], createsHeld: true) == .stored)
        #expect(BackfillPlan(maxDeletes: .default, allowMassDelete: false, allowMassCreate: true).heldCreates(run, localEnrollments: 0) == nil)
    }
}
