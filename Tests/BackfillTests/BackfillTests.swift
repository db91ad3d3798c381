import Backfill
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import ReconcileJob
import Reports
import Signing
import TestSupport
import Testing

@Suite struct BackfillTests {
    static let tenant = "fill-school"
    static let now = Date()
    static let school = School.generate(periods: 3, studentsPerPeriod: 40, seed: 21, today: now)
    static let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: 3, seed: 8, now: now)
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("fill")
    }

    func reconcile(_ school: School, settle: Duration = .seconds(900), at now: Date = BackfillTests.now) async throws -> ReconcileJob.Outcome {
        let simulator = DreamClassSimulator(school: school, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant))
        return try await JobHarness.reconcile(
            simulator, database: database, connection: connection, options: .init(schema: "dreamclass", tenant: Self.tenant, settle: settle), now: now
        )
    }

    func backfillCount() throws -> (rows: Int, distinct: Int) {
        let row = try connection.query("SELECT count(*), count(DISTINCT event_id) FROM dreamclass.webhook_events WHERE source = 'backfill'").first!
        return try row.decode(Int.self, Int.self)
    }

    @Test func backfillTwiceStoresEachEventOnceAndCloses() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let run = try await reconcile(Self.scenario.schoolAfter)
        #expect(run.items.count == 10)
        let first = try await BackfillJob(options: .init(schema: "dreamclass", runID: run.run.runID)).run(connection: connection)
        #expect(first.count(.stored) == 10)
        #expect(Dictionary(grouping: first.entries, by: \.kind).mapValues { Set($0.map(\.eventType)) } == [
            "missed_create": ["STUDENT_PERIOD_CREATED"], "missed_update": ["STUDENT_PERIOD_UPDATED"],
            "missed_delete": ["STUDENT_PERIOD_DELETED"], "stale_delete": ["STUDENT_PERIOD_CREATED"],
        ])
        let second = try await BackfillJob(options: .init(schema: "dreamclass", runID: run.run.runID)).run(connection: connection)
        #expect(second.count(.alreadyStored) == 10)
        #expect(second.entries.map(\.eventID) == first.entries.map(\.eventID))
        #expect(try backfillCount() == (10, 10))

        // A run against the same roster, its settle window past, finds the repaired enrollments in sync.
        let after = try await reconcile(Self.scenario.schoolAfter, settle: .zero, at: Date().addingTimeInterval(1))
        #expect(after.items.isEmpty)
        #expect(after.run.status == .ok)
        #expect(after.run.resolvedItems == 10)
    }

    @Test func aBackfillStoppedBetweenBatchesAndRunAgainStoresExactlyOnce() async throws {
        struct Killed: Error {}
        try connection.ingest(Self.scenario.storedWebhooks)
        let run = try await reconcile(Self.scenario.schoolAfter)
        var options = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        options.batchSize = 3
        await #expect(throws: Killed.self) {
            try await BackfillJob(options: options).run(connection: connection) { batch in if batch == 2 { throw Killed() } }
        }
        #expect(try backfillCount() == (6, 6))
        let again = try await BackfillJob(options: options).run(connection: connection)
        #expect(again.count(.alreadyStored) == 6)
        #expect(again.count(.stored) == 4)
        #expect(try backfillCount() == (10, 10))
        let linked = try connection.query("SELECT count(*) FROM dreamclass.backfill_events WHERE run_id = $1", [run.run.runID])
        #expect(try linked.first?.decode(Int.self, at: 0) == 10)
    }

    @Test func aDryRunShowsWhatWouldBeWrittenAndWritesNothing() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let run = try await reconcile(Self.scenario.schoolAfter)
        var options = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        options.dryRun = true
        let dry = try await BackfillJob(options: options).run(connection: connection)
        #expect(dry.count(.stored) == 10)
        #expect(try backfillCount() == (0, 0))
        let csv = BackfillReport.render(dry.reportRows, dryRun: true, wouldDeliver: true)
        #expect(csv.hasPrefix("event_id,kind,event_type,student_period_id,period_id,outcome,delivery_state,reason\r\n"))
        #expect(csv.components(separatedBy: "would_deliver").count == 11)
        // A dry run's rows say what would happen, never that something was stored.
        #expect(csv.components(separatedBy: ",would_store,").count == 11)
        #expect(!csv.contains(",stored,"))
        let real = try await BackfillJob(options: .init(schema: "dreamclass", runID: run.run.runID)).run(connection: connection)
        #expect(real.entries.map(\.eventID) == dry.entries.map(\.eventID))
    }

    @Test func aNewerRealEventIsNotOverwritten() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let run = try await reconcile(Self.scenario.schoolAfter)
        let updated = try #require(run.items.first { $0.kind == "missed_update" })
        let row = Enrollment(id: updated.studentPeriodID, studentId: updated.remoteStudentID!, active: !updated.remoteActive!, addedAt: updated.remoteAddedAt!)
        try connection.ingest([WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_UPDATED", tenant: Self.tenant,
                                         timestampMillis: Int64(Date().timeIntervalSince1970 * 1000), signature: nil, data: row)])
        let outcome = try await BackfillJob(options: .init(schema: "dreamclass", runID: run.run.runID)).run(connection: connection)
        #expect(outcome.entries.first { $0.studentPeriodID == updated.studentPeriodID }?.outcome == .skippedNewerEvent)
        #expect(outcome.count(.stored) == 9)
        #expect(outcome.summary.contains("1 skipped (newer event)"))
    }

    @Test func theMassDeleteGuardHoldsThenReleases() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        // A first run learns each enrollment's period; then DreamClass loses a quarter of one period.
        _ = try await reconcile(Self.scenario.schoolAfter)
        var shrunk = Self.scenario.schoolAfter
        let period = Self.school.periods[1].id
        let removed = Array(shrunk.enrollments[period]!.prefix(10)).map(\.id)
        shrunk.enrollments[period]!.removeFirst(10)
        let run = try await reconcile(shrunk)
        #expect(Set(run.items.filter { $0.kind == "missed_delete" && $0.periodID == period }.map(\.studentPeriodID)) == Set(removed))

        let held = try await BackfillJob(options: .init(schema: "dreamclass", runID: run.run.runID)).run(connection: connection)
        #expect(held.heldPeriods.contains(period))
        #expect(held.count(.held) >= 10)
        #expect(held.summary.contains("period \(period)"))
        #expect(held.summary.contains("--allow-mass-delete"))
        #expect(held.entries.filter { $0.kind != "missed_delete" }.allSatisfy { $0.outcome == .stored })

        var release = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        release.allowMassDelete = true
        let released = try await BackfillJob(options: release).run(connection: connection)
        #expect(released.count(.held) == 0)
        #expect(released.count(.stored) == held.count(.held))
    }

    @Test func anEmptyRosterHoldsItsDeletesWhateverTheLimit() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        _ = try await reconcile(Self.scenario.schoolAfter)
        var emptied = Self.scenario.schoolAfter
        let period = Self.school.periods[2].id
        emptied.enrollments[period] = []
        let run = try await reconcile(emptied)
        var options = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        options.maxDeletes = .count(1_000)
        let outcome = try await BackfillJob(options: options).run(connection: connection)
        #expect(outcome.heldPeriods.contains(period))
    }

    @Test func deliveryIsSignedRetriedAndResumed() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let run = try await reconcile(Self.scenario.schoolAfter)
        let secret = Data("school secret \(UUID())".utf8).base64EncodedString()
        let signature = try WebhookSignature(secret: secret, encoding: .base64)
        let receiver = TestReceiver(failFirst: 2, user: "dreamclass", password: "hook-pass", signature: signature)
        let url = try await receiver.start()
        defer { Task { await receiver.stop() } }

        var options = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        options.signature = signature
        // One event the receiver refuses until it is fixed.
        let blocked = SyntheticEventIDProbe.firstEventID(run.items, tenant: Self.tenant)
        receiver.state.withLock { $0.alwaysFail = [blocked] }
        var config = WebhookSender.Configuration(url: url, basicAuth: ("dreamclass", "hook-pass"))
        config.maxAttempts = 3
        config.backoffBase = .milliseconds(5)
        config.backoffCap = .milliseconds(20)
        let sender = WebhookSender(configuration: config)
        let first = try await BackfillJob(options: options).run(connection: connection, sender: sender)
        #expect(first.delivered == 9)
        #expect(first.deliveryFailed == 1)
        #expect(receiver.state.withLock { $0.rejectedAuth + $0.rejectedSignature } == 0)
        #expect(receiver.state.withLock { Set($0.accepted).count } == 9)

        receiver.state.withLock { $0.alwaysFail = [] }
        let attemptsBefore = receiver.state.withLock { $0.attempts }
        let second = try await BackfillJob(options: options).run(connection: connection, sender: sender)
        #expect(second.delivered == 1)
        #expect(receiver.state.withLock { $0.attempts } == attemptsBefore + 1)
        #expect(receiver.state.withLock { $0.accepted.last } == blocked)
        let states = try connection.query("SELECT delivery_state, count(*) FROM dreamclass.backfill_events GROUP BY 1").rows
            .map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Int.self, at: 1))" }
        #expect(states == ["delivered 10"])
        try await sender.shutdown()

        // Wrong credentials are refused by the receiver, and the failure is recorded.
        let wrong = WebhookSender(configuration: {
            var bad = config
            bad.basicAuth = ("dreamclass", "not-it")
            bad.maxAttempts = 1
            return bad
        }())
        let result = await wrong.deliver(first.entries[0].body)
        #expect(!result.delivered)
        #expect(result.lastError?.contains("HTTP 401") == true)
        try await wrong.shutdown()
        await receiver.stop()
    }

    @Test func theMaxDeletesFlagWinsOverTheSchoolsFile() async throws {
        try connection.ingest(Self.scenario.storedWebhooks)
        let simulator = DreamClassSimulator(school: Self.scenario.schoolAfter, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant))
        let url = try await simulator.start()
        let folder = try temporaryFolder("fill").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "k".write(toFile: folder + "/key", atomically: true, encoding: .utf8)
        try """
            defaults:
              max_deletes: 0
            schools:
              fill:
                base_url: \(url)
                school_code: S
                tenant: \(Self.tenant)
                api_key_file: \(folder)/key
            """.write(toFile: folder + "/schools.yaml", atomically: true, encoding: .utf8)
        let arguments = ["run", "--config", folder + "/schools.yaml", "--backfill", "--report", "/dev/null", "--backfill-report", "/dev/null",
                         "--database", database.conninfo]
        let held = await Command.run("dreamclass-reconcile", arguments + ["--metrics-file", folder + "/held.prom"])
        let released = await Command.run("dreamclass-reconcile", arguments + ["--max-deletes", "100%", "--metrics-file", folder + "/released.prom"])
        await simulator.stop()
        let deletes = Self.scenario.expectedMissedDeletes.count
        #expect(held.stdout.contains(", \(deletes) held"), "\(held.stdout)\n\(held.stderr)")
        #expect(released.stdout.contains(", 0 held"), "\(released.stdout)\n\(released.stderr)")
        // Held deletes are not silent: their own exit code, and a metric an alert fires on.
        #expect(held.status == 3 && released.status == 0, "\(held.status) \(released.status)")
        let line = #"dreamclass_reconcile_held_deletes{tenant="\#(Self.tenant)"}"#
        #expect(try String(contentsOfFile: folder + "/held.prom", encoding: .utf8).contains("\(line) \(deletes)\n"))
        #expect(try String(contentsOfFile: folder + "/released.prom", encoding: .utf8).contains("\(line) 0\n"))
        let stored = try connection.query(
            "SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'backfill' AND event_type = 'STUDENT_PERIOD_DELETED'"
        ).first?.decode(Int.self, at: 0)
        #expect(stored == deletes)
    }
}

/// The id the backfill gives the first drift item, worked out as the backfill does.
enum SyntheticEventIDProbe {
    static func firstEventID(_ items: [StoredDriftItem], tenant: String) -> String {
        let item = items.first { $0.kind == "missed_create" }!
        let state = "\(item.remoteStudentID!) \(item.remoteActive!) \(Models.Timestamp.parse(item.remoteAddedAt!).map(Models.Timestamp.format)!)"
        return SyntheticEventID.make(tenant: tenant, enrollmentID: item.studentPeriodID, kind: item.kind, state: state).uuidString.lowercased()
    }
}
