import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Logging
import Models
import Postgres
import ReconcileJob
import Reports
import TestSupport
import Testing

/// The whole run against a real PostgreSQL and the simulator over loopback.
@Suite struct ReconcileJobTests {
    static let tenant = "job-school"
    static let now = Date()
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("job")
    }

    /// Runs the job once against `simulator`.
    func run(
        _ simulator: DreamClassSimulator, _ options: ReconcileJob.Options? = nil, maxAttempts: Int = 2, logger: Logger = Logger(label: "reconcile")
    ) async throws -> ReconcileJob.Outcome {
        try await JobHarness.reconcile(
            simulator, database: database, connection: connection, options: options ?? .init(schema: "dreamclass", tenant: Self.tenant),
            now: Self.now, logger: logger
        ) { $0.maxAttempts = maxAttempts }
    }

    static func simulator(_ school: School, change: (inout SimulatorSettings) -> Void = { _ in }) -> DreamClassSimulator {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: tenant)
        change(&settings)
        return DreamClassSimulator(school: school, settings: settings)
    }

    static let school = School.generate(periods: 4, studentsPerPeriod: 40, seed: 11, today: now)
    static let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: 3, seed: 5, now: now)

    @Test func findsEveryKindOfDriftAndRecordsTheRun() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let report = FileManager.default.temporaryDirectory.appending(path: "drift-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        let outcome = try await run(Self.simulator(Self.scenario.schoolAfter) { $0.pageSize = 15 },
                                    .init(schema: "dreamclass", tenant: Self.tenant, reportPath: report))
        func ids(_ kind: String) -> [Int] { outcome.items.filter { $0.kind == kind }.map(\.studentPeriodID).sorted() }
        #expect(ids("missed_create") == Self.scenario.expectedMissedCreates)
        #expect(ids("missed_update") == Self.scenario.expectedMissedUpdates)
        #expect(ids("missed_delete") == Self.scenario.expectedMissedDeletes)
        #expect(ids("stale_delete") == Self.scenario.expectedStaleDeletes)
        #expect(outcome.run.status == .drift)
        #expect(outcome.items.allSatisfy { $0.studentName != nil || $0.studentStatus == "not_found" })
        #expect(outcome.items.filter { $0.kind == "missed_update" }.allSatisfy { $0.changedFields == "active" })

        let stored = try #require(try RunStore(schema: "dreamclass").run(outcome.run.runID, on: connection))
        #expect(stored.status == .drift)
        #expect(stored.missedCreates == 3 && stored.missedUpdates == 3 && stored.missedDeletes == 3 && stored.staleDeletes == 1)
        #expect(stored.apiCalls > 0)
        #expect(try RunStore(schema: "dreamclass").driftItems(runID: outcome.run.runID, on: connection) == outcome.items)

        let csv = try String(contentsOfFile: report, encoding: .utf8)
        let lines = csv.split(separator: "\r\n")
        #expect(lines.first == Substring(DriftReport.columns.joined(separator: ",")))
        #expect(lines.count == 1 + outcome.items.count)
    }

    /// The early lookups ask for each drifted student once and for no one else, whether the fold
    /// streams every event (the first run) or merges the kept state (the next one), and the kept
    /// state gives the next run the same drift.
    @Test func eachDriftedStudentIsLookedUpOnceOnAFullAndAnIncrementalRun() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        var previous: [StoredDriftItem]?
        for fold in ["full", "incremental"] {
            let simulator = Self.simulator(Self.scenario.schoolAfter) { $0.pageSize = 15 }
            let outcome = try await run(simulator)
            #expect((outcome.foldState?.replacesAll == true) == (fold == "full"), "\(fold)")
            let students = Set(outcome.items.compactMap(\.studentID))
            #expect(students.count >= 8, "\(fold)")
            #expect(simulator.statistics.count(.student) == students.count, "\(fold): one GetStudent per drifted student")
            let drift = outcome.items.map { "\($0.kind) \($0.studentPeriodID)" }.sorted()
            if let previous { #expect(drift == previous.map { "\($0.kind) \($0.studentPeriodID)" }.sorted(), "the same drift") }
            previous = outcome.items
        }
    }

    @Test func aFailingPeriodIsIncompleteAndNeverAFalseDelete() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        // The outage's deletes are all in some periods; make every one of those periods fail.
        let failing = Set(Self.school.enrollments.filter { _, rows in rows.contains { Self.scenario.expectedMissedDeletes.contains($0.id) } }.keys)
        let outcome = try await run(Self.simulator(Self.scenario.schoolAfter) { $0.failingPeriods = failing })
        #expect(outcome.run.status == .incomplete)
        #expect(outcome.run.periodsFailed == failing.count)
        #expect(outcome.items.allSatisfy { $0.kind != "missed_delete" })
        #expect(outcome.run.unverified > 0)
        #expect(outcome.periods.filter { !$0.readOK }.map(\.periodID).sorted() == failing.sorted())
        #expect(try RunStore(schema: "dreamclass").run(outcome.run.runID, on: connection)?.status == .incomplete)
    }

    @Test func aPeriodSubsetReconcilesOnlyThosePeriods() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        // A first full run teaches which period each enrollment belongs to.
        _ = try await run(Self.simulator(Self.scenario.schoolAfter))
        let period = Self.school.periods[1].id
        let inPeriod = Set((Self.scenario.schoolAfter.enrollments[period] ?? []).map(\.id) + (Self.school.enrollments[period] ?? []).map(\.id))
        let outcome = try await run(Self.simulator(Self.scenario.schoolAfter), .init(schema: "dreamclass", tenant: Self.tenant, scope: .periods([period])))
        #expect(outcome.run.scope == "periods:\(period)")
        #expect(!outcome.items.isEmpty)
        #expect(outcome.items.allSatisfy { inPeriod.contains($0.studentPeriodID) })
        #expect(outcome.run.outOfScope > 0)
        #expect(outcome.run.periodsTotal == 1)
    }

    @Test func theCurrentScopeReadsOnlyThePeriodsOfToday() async throws {
        let outcome = try await run(Self.simulator(Self.school), .init(schema: "dreamclass", tenant: Self.tenant, scope: .current))
        let today = String(Timestamp.format(Self.now).prefix(10))
        let current = Self.school.periods.filter { $0.contains(day: today) }
        #expect(current.count == 1)
        #expect(outcome.periods.map(\.periodID) == current.map(\.id))
        #expect(outcome.items.count == Self.school.enrollments[current[0].id]?.count)
        #expect(outcome.run.scope == "current")
    }

    @Test func recentChangesAreInFlightNotDrift() async throws {
        var school = Self.school
        let period = school.periods[0].id
        school.enrollments[period]?.append(Enrollment(id: 9_001, studentId: 10_001, active: true,
                                                      addedAt: Timestamp.formatMilliseconds(Self.now.addingTimeInterval(-60))))
        let created = Self.scenario.storedWebhooks
        try connection.ingest(created)
        let withWindow = try await run(Self.simulator(school), .init(schema: "dreamclass", tenant: Self.tenant, settle: .seconds(900)))
        #expect(!withWindow.items.contains { $0.studentPeriodID == 9_001 })
        #expect(withWindow.run.inFlight >= 1)
        let noWindow = try await run(Self.simulator(school), .init(schema: "dreamclass", tenant: Self.tenant, settle: .zero))
        #expect(noWindow.items.contains { $0.studentPeriodID == 9_001 && $0.kind == "missed_create" })
    }

    @Test func driftIsNewThenPersistingThenResolved() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let first = try await run(Self.simulator(Self.scenario.schoolAfter))
        #expect(first.run.newItems == first.items.count)
        #expect(first.run.persistingItems == 0)

        // One missed create gets its webhook late; the rest persist.
        let repaired = Self.scenario.expectedMissedCreates[0]
        let row = Self.scenario.schoolAfter.enrollments.values.flatMap { $0 }.first { $0.id == repaired }!
        try connection.ingest([WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_CREATED", tenant: Self.tenant,
                                         timestampMillis: Int64(Self.now.timeIntervalSince1970 * 1000) - 3_600_000, signature: nil, data: row)])
        let second = try await run(Self.simulator(Self.scenario.schoolAfter))
        #expect(second.run.newItems == 0)
        #expect(second.run.persistingItems == first.items.count - 1)
        #expect(second.run.resolvedItems == 1)
        #expect(second.items.allSatisfy { $0.firstSeenRun == first.run.runID })

        // DreamClass gains one more enrollment: new, beside the persisting ones.
        var school = Self.scenario.schoolAfter
        school.enrollments[school.periods[0].id]?.append(Enrollment(id: 8_000, studentId: 10_002, active: true, addedAt: "2026-10-01T08:00:00.000+00:00"))
        let third = try await run(Self.simulator(school))
        #expect(third.run.newItems == 1)
        #expect(third.run.persistingItems == first.items.count - 1)
        #expect(third.items.first { $0.studentPeriodID == 8_000 }?.firstSeenRun == third.run.runID)
        #expect(third.summary.contains("(1 new, \(first.items.count - 1) persisting, 0 resolved)"))
    }

    /// The rosters of the periods the last run read are read beside the period list, but the
    /// list decides: a period that left the scope since is not diffed, a new one is read.
    @Test func rostersReadAheadAreKeptOnlyForPeriodsTheListStillHasInScope() async throws {
        var school = School.generate(periods: 4, studentsPerPeriod: 10, seed: 21, today: Self.now)
        for index in school.periods.indices { (school.periods[index].startDate, school.periods[index].endDate) = ("2000-09-01", nil) }
        let options = ReconcileJob.Options(schema: "dreamclass", tenant: Self.tenant, scope: .current)
        let first = try await run(Self.simulator(school), options)
        #expect(first.periods.map(\.periodID) == [100, 101, 102, 103])
        #expect(first.items.count == 40)

        // 102 has ended (listed, out of scope); 103 is gone from the list (its roster a 404); 200 is new.
        school.periods[2].endDate = "2001-07-31"
        school.periods.removeLast()
        school.periods.append(Period(id: 200, name: "New", startDate: "2000-09-01"))
        school.enrollments[200] = [Enrollment(id: 9_100, studentId: 10_001, active: true, addedAt: "2001-09-01T08:00:00.000+00:00")]
        let simulator = Self.simulator(school)
        let logs = LogCapture()
        let second = try await run(simulator, options, logger: logs.logger())
        // 100 to 103 read ahead, 200 once the list named it.
        #expect(simulator.statistics.count(.periodStudents) == 5)
        #expect(second.periods.map(\.periodID).sorted() == [100, 101, 200])
        #expect(second.run.periodsTotal == 3 && second.run.status == .drift)
        #expect(!second.items.contains { $0.periodID == 102 || $0.periodID == 103 })
        #expect(second.items.count == 21)
        #expect(second.items.contains { $0.studentPeriodID == 9_100 && $0.kind == "missed_create" })
        // The dropped read of 103 failed unseen: no warning of a roster that could not be read.
        #expect(!logs.messages.contains { $0.contains("could not be read") }, "\(logs.messages)")
    }

    /// The kept state cannot be written (here a constraint refuses every row; a full disk does the
    /// same): the run fails and keeps nothing, and the connection is fit for the next run.
    @Test func aRunWhoseKeptStateCannotBeWrittenFailsAndKeepsNothing() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        try connection.execute("ALTER TABLE dreamclass.enrollment_states ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
        await #expect(throws: PostgresError.self) { try await run(Self.simulator(Self.scenario.schoolAfter)) }
        let store = RunStore(schema: "dreamclass")
        #expect(try store.recentRuns(tenant: Self.tenant, limit: 5, on: connection).map(\.status) == [.failed])
        #expect(try connection.withSession { try FoldStateStore(schema: "dreamclass").horizon(tenant: Self.tenant, on: $0) } == nil)
        #expect(try connection.query("SELECT count(*) FROM dreamclass.drift_items").first?.decode(Int.self, at: 0) == 0)

        try connection.execute("ALTER TABLE dreamclass.enrollment_states DROP CONSTRAINT refuse_all")
        let next = try await run(Self.simulator(Self.scenario.schoolAfter))
        #expect(next.run.status == .drift && next.items.count == 10)
        #expect(try connection.withSession { try FoldStateStore(schema: "dreamclass").horizon(tenant: Self.tenant, on: $0) } != nil)
    }

    /// What a run learns of its rosters (each enrollment's period) is written while it waits on
    /// its lookups, before its drift: when the drift cannot be written, that goes too.
    @Test func aRunWhoseDriftCannotBeWrittenKeepsNeitherItsFoldNorWhatItLearned() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        func learned() throws -> Int? { try connection.query("SELECT count(*) FROM dreamclass.enrollment_periods").first?.decode(Int.self, at: 0) }
        try connection.execute("ALTER TABLE dreamclass.drift_items ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
        await #expect(throws: PostgresError.self) { try await run(Self.simulator(Self.scenario.schoolAfter)) }
        #expect(try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 5, on: connection).map(\.status) == [.failed])
        #expect(try learned() == 0)
        #expect(try connection.withSession { try FoldStateStore(schema: "dreamclass").horizon(tenant: Self.tenant, on: $0) } == nil)

        try connection.execute("ALTER TABLE dreamclass.drift_items DROP CONSTRAINT refuse_all")
        let next = try await run(Self.simulator(Self.scenario.schoolAfter))
        #expect(next.run.status == .drift)
        #expect(try learned() == next.run.remoteEnrollments)
    }

    @Test func aSecondRunOfTheSameTenantIsRefused() async throws {
        let holder = try database.connect()
        let lock = try #require(try RunLock.acquire(schema: "dreamclass", tenant: Self.tenant, connection: holder))
        await #expect(throws: ReconcileError.self) { try await run(Self.simulator(Self.school)) }
        lock.release()
        let outcome = try await run(Self.simulator(Self.school))
        #expect(outcome.run.status == .drift)
    }

    /// The lock's connection ends mid-run while the run's own lives on: the school may be another
    /// worker's now, so the run records nothing as complete and keeps no fold state.
    @Test func aRunThatLostItsLockRecordsNothing() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let simulator = Self.simulator(Self.scenario.schoolAfter) { $0.latency = .milliseconds(300) ... .milliseconds(300) }
        let url = try await simulator.start()
        let client = try DreamClassClient(configuration: DreamClassConfiguration(baseURL: url, apiKey: "k", schoolCode: "S", tenant: Self.tenant))
        let lockConnection = try database.connect()
        let lockSession = try #require(try lockConnection.query("SELECT pg_backend_pid()").first?.decode(Int32.self, at: 0))
        let (connection, observer) = (self.connection, try database.connect())
        let run = Task {
            try await ReconcileJob(options: .init(schema: "dreamclass", tenant: Self.tenant))
                .run(connection: connection, lockConnection: lockConnection, client: client, now: Self.now)
        }
        try await waitUntil("the run has started") {
            try observer.query("SELECT count(*) FROM dreamclass.reconcile_runs WHERE status = 'running'").first?.decode(Int.self, at: 0) == 1
        }
        try observer.execute("SELECT pg_terminate_backend($1)", [lockSession])
        let error = await #expect(throws: RunLockLost.self) { try await run.value }
        #expect(error?.description.contains("lost its lock") == true)
        try await client.shutdown()
        await simulator.stop()
        let runs = try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 5, on: observer)
        #expect(runs.map(\.status) == [.failed])
        #expect(try observer.withSession { try FoldStateStore(schema: "dreamclass").horizon(tenant: Self.tenant, on: $0) } == nil)
        #expect(try observer.query("SELECT count(*) FROM dreamclass.drift_items").first?.decode(Int.self, at: 0) == 0)
    }

    @Test func aDryRunWritesNothing() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let outcome = try await run(Self.simulator(Self.scenario.schoolAfter), .init(schema: "dreamclass", tenant: Self.tenant, dryRun: true))
        #expect(outcome.items.count == 10)
        #expect(outcome.run.runID == 0)
        let counts = try connection.query(
            "SELECT (SELECT count(*) FROM dreamclass.reconcile_runs), (SELECT count(*) FROM dreamclass.drift_items), (SELECT count(*) FROM dreamclass.enrollment_periods)"
        ).first!
        #expect(try counts.decode(Int.self, Int.self, Int.self) == (0, 0, 0))
    }

    @Test func unusableAndUnsignedEventsAreLeftOutAndListed() async throws {
        try connection.ingest([
            #"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_CREATED","tenant":"job-school","timestamp":1,"data":{"id":"seven","studentId":1,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00"}}"#,
            #"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_UPDATED","tenant":"job-school","timestamp":1,"data":{"id":7,"studentId":3,"active":"yes","addedAt":"2024-10-02T09:40:02Z"}}"#,
            #"{"id":"\#(UUID().uuidString)","type":"PAYMENT_CREATED","tenant":"job-school","timestamp":1,"data":{"id":7}}"#,
        ])
        try connection.execute("""
            INSERT INTO dreamclass.webhook_events (event_id, tenant, event_type, event_time, signature_valid, body, student_period_id)
            VALUES ($1, $2, 'STUDENT_PERIOD_DELETED', now(), false, '{"data":{"id":1}}', 1)
            """, [UUID(), Self.tenant])
        let outcome = try await run(Self.simulator(Self.school))
        #expect(outcome.run.eventsUnusable == 2)
        #expect(outcome.run.eventsUnsigned == 1)
        #expect(outcome.run.eventsSkipped == 1)
        #expect(outcome.skipped.map(\.reason).sorted() == [
            "data.active is missing or not a boolean", "data.id is missing or not an integer", "signature did not verify",
        ])
        let listed = try connection.query("SELECT count(*) FROM dreamclass.run_skipped_events WHERE run_id = $1", [outcome.run.runID])
        #expect(try listed.first?.decode(Int.self, at: 0) == 3)
        // The forged delete was left out: enrollment 1 is a plain missed create, not a stale delete.
        #expect(outcome.items.first { $0.studentPeriodID == 1 }?.kind == "missed_create")
    }

    @Test func aRunWhosePeriodListCannotBeReadIsFailed() async throws {
        await #expect(throws: DreamClassError.self) {
            try await run(Self.simulator(Self.school) { $0.nextStatuses = [503, 503, 503] })
        }
        let runs = try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 5, on: connection)
        #expect(runs.map(\.status) == [.failed])
        #expect(runs.first?.error?.contains("GetSchoolPeriods") == true)
    }
}
