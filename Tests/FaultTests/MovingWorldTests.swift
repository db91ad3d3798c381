import Backfill
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import ReconcileJob
import Synchronization
import TestSupport
import Testing

/// DreamClass changes while the run reads it: rows deleted and inserted between the pages of a
/// roster and between a read and its confirmation, 429s asking for a day, a night that ends.
/// Serialized: the seeds' runs one after another, so that the deadline's test measures the
/// night, not a machine starved by two dozen runs at once.
@Suite(.serialized) struct MovingWorldTests {
    static let now = Date()
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("moving")
    }

    static func configuration(_ url: String, tenant: String, change: (inout DreamClassConfiguration) -> Void = { _ in }) -> DreamClassConfiguration {
        var configuration = DreamClassConfiguration(
            baseURL: url, apiKey: "k", schoolCode: "S", tenant: tenant, pageSize: 5, maxAttempts: 3,
            backoffBase: .milliseconds(1), backoffCap: .milliseconds(5)
        )
        change(&configuration)
        return configuration
    }

    /// Runs the job once against `simulator` (started and stopped here).
    func run(
        _ simulator: DreamClassSimulator, tenant: String, deadline: ContinuousClock.Instant? = nil,
        client change: (inout DreamClassConfiguration) -> Void = { _ in }
    ) async throws -> ReconcileJob.Outcome {
        try await JobHarness.reconcile(
            simulator, database: database, connection: connection, options: .init(schema: "dreamclass", tenant: tenant, skipStudentDetails: true),
            now: Self.now, deadline: deadline
        ) { configuration in
            configuration = Self.configuration(configuration.baseURL, tenant: tenant, change: change)
        }
    }

    static func simulator(_ school: School, tenant: String, seed: UInt64 = 1, change: (inout SimulatorSettings) -> Void = { _ in }) -> DreamClassSimulator {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: tenant)
        change(&settings)
        return DreamClassSimulator(school: school, settings: settings, seed: seed)
    }

    /// The school's systems believe exactly what DreamClass has, as of an hour ago.
    func storeInSync(_ school: School, tenant: String) throws {
        let millis = Int64(Self.now.timeIntervalSince1970 * 1000) - 3_600_000
        try connection.ingest(school.enrollments.values.joined().map {
            WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_CREATED", tenant: tenant, timestampMillis: millis, signature: nil, data: $0)
        })
    }

    @Test func aRowDeletedWhileItsRosterIsPagedDoesNotHideTheRowsAfterIt() async throws {
        // The example of the issue: 14 enrollments, pages of 5, the first row deleted in
        // DreamClass right after page 0 was served. The row that slides onto page 0 is in
        // DreamClass throughout and must not come out as a missed delete.
        let tenant = "sliding"
        let school = School.generate(periods: 1, studentsPerPeriod: 14, seed: 5)
        let period = school.periods[0].id
        try storeInSync(school, tenant: tenant)
        let deleted = school.enrollments[period]![0].id
        let simulator = Self.simulator(school, tenant: tenant) {
            $0.pageSize = 5
            $0.afterRosterPage = { id, page, school in
                if id == period, page == 0, school.enrollments[id]!.count == 14 { school.enrollments[id]!.removeFirst() }
            }
        }
        let outcome = try await run(simulator, tenant: tenant)
        #expect(outcome.items.map(\.kind) == ["missed_delete"])
        #expect(outcome.items.map(\.studentPeriodID) == [deleted])
        #expect(outcome.run.rosterRereads == 1)
        #expect(outcome.run.status == .drift)
        #expect(outcome.summary.contains("(0 retried, 1 re-read)"))
    }

    @Test func aDeleteNotConfirmedBySecondReadIsNotDrift() async throws {
        // Between the first read and the confirming one, the enrollment comes back (its first
        // read missed it): changed during the run, not a delete.
        let tenant = "returning"
        let school = School.generate(periods: 2, studentsPerPeriod: 6, seed: 8)
        try storeInSync(school, tenant: tenant)
        let period = school.periods[1].id
        let hidden = school.enrollments[period]![2]
        let reads = Mutex(0)
        var first = school
        first.enrollments[period]!.remove(at: 2)
        let simulator = Self.simulator(first, tenant: tenant) {
            $0.afterRosterPage = { id, _, school in
                guard id == period else { return }
                if reads.withLock({ $0 += 1; return $0 }) == 1 { school.enrollments[id]!.insert(hidden, at: 2) }
            }
        }
        let outcome = try await run(simulator, tenant: tenant) { $0.pageSize = 0 }
        #expect(outcome.items.isEmpty)
        #expect(outcome.run.changedDuringRun == 1)
        #expect(outcome.run.status == .ok)
        // A first run knows no enrollment's period yet, so every period was read to confirm.
        #expect(simulator.statistics.count(.periodStudents) == 4)
        #expect(outcome.summary.contains("1 changed during the run"))
    }

    @Test func aConfirmingReadThatFailsLeavesTheDeleteUnverified() async throws {
        let tenant = "unconfirmed"
        let school = School.generate(periods: 2, studentsPerPeriod: 6, seed: 9)
        try storeInSync(school, tenant: tenant)
        let period = school.periods[0].id
        var after = school
        after.enrollments[period]!.removeLast()
        // After its first read, the period cannot be read any more (404): the confirmation fails.
        let simulator = Self.simulator(after, tenant: tenant) {
            $0.afterRosterPage = { id, _, school in if id == period { school.enrollments[id] = nil } }
        }
        let outcome = try await run(simulator, tenant: tenant) { $0.pageSize = 0 }
        #expect(outcome.items.isEmpty)
        #expect(outcome.run.unverified == 1)
        #expect(outcome.run.status == .incomplete)
        #expect(outcome.run.error?.contains("confirming read") == true)
    }

    /// Runs once against `school` while DreamClass inserts and deletes roster rows between the
    /// pages and reads, and checks the run: no enrollment listed throughout is called deleted, and
    /// none that was never there is called created.
    func runUnderChurn(_ school: School, tenant: String, seed: UInt64) async throws
        -> (outcome: ReconcileJob.Outcome, churn: SimulatorStatistics, presentThroughout: Set<Int>, deletes: Set<Int>)
    {
        let before = Set(school.periods.flatMap { school.enrollments[$0.id] ?? [] }.map(\.id))
        let simulator = Self.simulator(school, tenant: tenant, seed: seed) {
            $0.pageSize = 6
            $0.rosterChurnRate = 0.2
        }
        let outcome = try await run(simulator, tenant: tenant) { $0.pageSize = 6; $0.readAttempts = 8 }
        let churn = simulator.statistics
        let presentThroughout = before.subtracting(churn.churnRemoved)
        let deletes = Set(outcome.items.filter { $0.kind == "missed_delete" }.map(\.studentPeriodID))
        let creates = Set(outcome.items.filter { $0.kind == "missed_create" }.map(\.studentPeriodID))
        #expect(deletes.isDisjoint(with: presentThroughout), "seed \(seed): false deletes \(deletes.intersection(presentThroughout))")
        #expect(creates.isSubset(of: before.union(churn.churnAdded)), "seed \(seed): false creates \(creates.subtracting(before.union(churn.churnAdded)))")
        return (outcome, churn, presentThroughout, deletes)
    }

    /// Over many seeds, DreamClass deletes and inserts rows at random places while its rosters
    /// are paged through and between the reads. Whatever it does, nothing that was there the
    /// whole time is called deleted (nor backfilled as DELETED), and nothing that was never there
    /// is called created.
    @Test(arguments: 1...24)
    func churnDuringTheReadsNeverGivesAFalseDeleteOrCreate(seed: UInt64) async throws {
        let tenant = "churn-\(seed)"
        let school = School.generate(periods: 3, studentsPerPeriod: 20, seed: seed, today: Self.now)
        let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: 3, seed: seed, now: Self.now)
        try connection.ingest(scenario.storedWebhooks)
        let (outcome, churn, presentThroughout, deletes) = try await runUnderChurn(scenario.schoolAfter, tenant: tenant, seed: seed)
        // The deletes the outage really hid are still found, unless DreamClass took them back.
        if outcome.run.status != .incomplete {
            #expect(Set(scenario.expectedMissedDeletes).subtracting(churn.churnAdded).isSubset(of: deletes), "seed \(seed)")
        }

        guard outcome.run.status != .failed, outcome.run.driftCount > 0 else { return }
        var options = BackfillJob.Options(schema: "dreamclass", runID: outcome.run.runID)
        options.allowMassDelete = true
        _ = try await BackfillJob(options: options).run(connection: connection)
        let backfilledDeletes = try connection.query("""
            SELECT student_period_id FROM dreamclass.webhook_events
            WHERE tenant = $1 AND source = 'backfill' AND event_type = 'STUDENT_PERIOD_DELETED'
            """, [tenant]).rows.map { try $0.decode(Int.self, at: 0) }
        #expect(Set(backfilledDeletes).isDisjoint(with: presentThroughout), "seed \(seed)")
    }

    /// The next night: its rosters are read ahead from the last run's periods while DreamClass
    /// churns them, one of those periods has left the list and a new one has come. Still no
    /// false delete or create; the new period's rows are found; the gone one's are never deletes.
    @Test(arguments: 1...12)
    func aRunReadingAheadUnderChurnNeverGivesAFalseDeleteOrCreate(seed: UInt64) async throws {
        let tenant = "ahead-\(seed)"
        var school = School.generate(periods: 3, studentsPerPeriod: 20, seed: seed, today: Self.now)
        try storeInSync(school, tenant: tenant)
        let first = try await run(Self.simulator(school, tenant: tenant), tenant: tenant) { $0.pageSize = 6 }
        #expect(first.run.status == .ok, "seed \(seed)")

        let gone = school.periods.removeLast()
        school.periods.append(Period(id: 900, name: "New", startDate: "2025-09-01"))
        let added = (0..<4).map { Enrollment(id: 90_000 + $0, studentId: 10_000 + $0, active: true, addedAt: "2025-09-01T08:00:00.000+00:00") }
        school.enrollments[900] = added
        let (outcome, churn, _, deletes) = try await runUnderChurn(school, tenant: tenant, seed: seed)
        #expect(deletes.isDisjoint(with: (school.enrollments[gone.id] ?? []).map(\.id)), "seed \(seed)")
        #expect(!outcome.periods.contains { $0.periodID == gone.id }, "seed \(seed)")
        if outcome.periods.first(where: { $0.periodID == 900 })?.readOK == true {
            let creates = Set(outcome.items.filter { $0.kind == "missed_create" }.map(\.studentPeriodID))
            #expect(Set(added.map(\.id)).subtracting(churn.churnRemoved).isSubset(of: creates), "seed \(seed)")
        }
    }

    @Test func churnHappensAndIsSurvivedAcrossTheSeeds() async throws {
        // The properties above are only worth something if the churn really hits the reads.
        var rereads = 0, changed = 0, complete = 0
        for seed in 1...6 as ClosedRange<UInt64> {
            let tenant = "churn-count-\(seed)"
            let school = School.generate(periods: 3, studentsPerPeriod: 20, seed: seed, today: Self.now)
            let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: 3, seed: seed, now: Self.now)
            try connection.ingest(scenario.storedWebhooks)
            let (outcome, churn, _, _) = try await runUnderChurn(scenario.schoolAfter, tenant: tenant, seed: seed)
            rereads += outcome.run.rosterRereads
            changed += churn.churnRemoved.count
            if outcome.run.status != .incomplete { complete += 1 }
        }
        #expect(rereads > 0)
        #expect(changed > 0)
        #expect(complete >= 4)
    }

    @Test func aDayLongRetryAfterFailsTheCallAtOnce() async throws {
        let school = School.generate(periods: 1, studentsPerPeriod: 3, seed: 2)
        let simulator = Self.simulator(school, tenant: "throttled") {
            $0.nextStatuses = [429]
            $0.retryAfterSeconds = 86_400
        }
        let url = try await simulator.start()
        let error = await #expect(throws: DreamClassError.self) {
            try await DreamClassClient.withClient(configuration: Self.configuration(url, tenant: "throttled") { $0.maxRetryAfter = .seconds(60) }) {
                try await $0.periods()
            }
        }
        await simulator.stop()
        guard case .throttled(_, let retryAfter, let cap)? = error else { Issue.record("not throttled: \(String(describing: error))"); return }
        #expect(retryAfter == .seconds(86_400))
        #expect(cap == .seconds(60))
        #expect(error?.description.contains("Retry-After 86400 s") == true)
        // No second try: the call did not sleep on it.
        #expect(simulator.statistics.count(.listPeriods) == 1)
    }

    @Test func aRunPastItsDeadlineRecordsWhatItVerifiedAndIsIncomplete() async throws {
        let tenant = "deadline"
        let school = School.generate(periods: 6, studentsPerPeriod: 5, seed: 4)
        try storeInSync(school, tenant: tenant)
        // DreamClass hangs on two periods; the night ends 20 s after the start, long before it answers.
        let stalled = Set(school.periods.suffix(2).map(\.id))
        let simulator = Self.simulator(school, tenant: tenant) {
            $0.stallingPeriods = stalled
            $0.slowDelay = .seconds(600)
        }
        let start = ContinuousClock.now
        let outcome = try await run(simulator, tenant: tenant, deadline: .now + .seconds(20)) { $0.pageSize = 0; $0.timeout = .seconds(300) }
        // It stopped at the deadline, not at the hanging answers or the client's timeout.
        #expect(ContinuousClock.now - start < .seconds(200))
        #expect(outcome.run.status == .incomplete)
        #expect(Set(outcome.periods.filter { !$0.readOK }.map(\.periodID)) == stalled)
        #expect(outcome.periods.filter { !$0.readOK }.allSatisfy { $0.error?.contains("deadline passed") == true })
        #expect(outcome.items.isEmpty)
        #expect(outcome.run.unverified == 10)
        #expect(outcome.run.inSync == 20)
        let stored = try RunStore(schema: "dreamclass").run(outcome.run.runID, on: connection)
        #expect(stored?.status == .incomplete)
    }
}
