import Backfill
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import ReconcileJob
import TestSupport
import Testing

/// The run and the backfill under faults: a flaky API, a database connection killed mid-run, and
/// processes killed with SIGKILL at random points.
@Suite struct FaultTests {
    static let tenant = "fault-school"
    static let now = Date()
    static let school = School.generate(periods: 6, studentsPerPeriod: 30, seed: 31, today: now)
    static let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: 4, seed: 13, now: now)
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("fault")
        try connection.ingest(Self.scenario.storedWebhooks)
    }

    static func configuration(_ url: String, attempts: Int = 4, timeout: Duration = .seconds(30)) -> DreamClassConfiguration {
        DreamClassConfiguration(
            baseURL: url, apiKey: "k", schoolCode: "S", tenant: tenant, pageSize: 10, timeout: timeout, maxAttempts: attempts,
            backoffBase: .milliseconds(2), backoffCap: .milliseconds(10)
        )
    }

    static func client(_ url: String) throws -> DreamClassClient {
        try DreamClassClient(configuration: configuration(url))
    }

    @Test(arguments: [0.1, 0.2, 0.3])
    func aFlakyAPINeverGivesAFalseDelete(rate: Double) async throws {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant)
        settings.pageSize = 10
        settings.tooManyRequestsRate = rate / 3
        settings.retryAfterSeconds = 0
        settings.serverErrorRate = rate / 3
        settings.malformedRate = rate / 6
        settings.slowRate = rate / 6
        settings.slowDelay = .milliseconds(400)
        let simulator = DreamClassSimulator(school: Self.scenario.schoolAfter, settings: settings, seed: UInt64(rate * 100))
        let url = try await simulator.start()
        let outcome: ReconcileJob.Outcome
        do {
            outcome = try await DreamClassClient.withClient(configuration: Self.configuration(url, attempts: 3, timeout: .milliseconds(200))) { client in
                try await ReconcileJob(options: .init(schema: "dreamclass", tenant: Self.tenant, skipStudentDetails: true))
                    .run(connection: connection, lockConnection: try database.connect(), client: client, now: Self.now)
            }
        } catch let error as DreamClassError {
            // The period list itself could not be read after its tries: the run failed, claiming nothing.
            await simulator.stop()
            #expect(error.description.contains("/curriculum/schoolperiods/list"))
            let runs = try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 1, on: connection)
            #expect(runs.map(\.status) == [.failed])
            #expect(try connection.query("SELECT count(*) FROM dreamclass.drift_items").first?.decode(Int.self, at: 0) == 0)
            return
        }
        await simulator.stop()
        let faults = simulator.statistics.served.values.flatMap { $0 }.filter { $0.key != 200 }.map(\.value).reduce(0, +)

        let deletes = Set(outcome.items.filter { $0.kind == "missed_delete" }.map(\.studentPeriodID))
        #expect(deletes.isSubset(of: Set(Self.scenario.expectedMissedDeletes)), "false deletes: \(deletes.subtracting(Self.scenario.expectedMissedDeletes))")
        let failed = Set(outcome.periods.filter { !$0.readOK }.map(\.periodID))
        if failed.isEmpty {
            #expect(outcome.run.status == .drift)
            #expect(outcome.items.count == 13)
        } else {
            #expect(outcome.run.status == .incomplete)
            // Every item is in a period that was read whole, or (a create) in no failed period.
            #expect(outcome.items.allSatisfy { $0.periodID.map { !failed.contains($0) } ?? true })
        }
        #expect(faults == 0 || outcome.run.apiRetries > 0)
    }

    @Test func aKilledDatabaseConnectionFailsTheRunAndTheNextOneSucceeds() async throws {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant)
        settings.latency = .milliseconds(60) ... .milliseconds(60)
        let simulator = DreamClassSimulator(school: Self.scenario.schoolAfter, settings: settings)
        let url = try await simulator.start()
        let doomed = try database.connect()
        let pid = doomed.backendPID
        let client = try Self.client(url)
        let run = Task {
            try await ReconcileJob(options: .init(schema: "dreamclass", tenant: Self.tenant))
                .run(connection: doomed, lockConnection: try database.connect(), client: client, now: Self.now)
        }
        try await waitUntil("the run to read a roster") { simulator.statistics.count(.periodStudents) > 0 }
        try connection.execute("SELECT pg_terminate_backend($1)", [Int(pid)])
        let result = await run.result
        try await client.shutdown()
        #expect(throws: PostgresError.self) { try result.get() }

        let runs = try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 5, on: connection)
        #expect(runs.map(\.status) == [.failed])
        #expect(try connection.query("SELECT count(*) FROM dreamclass.drift_items").first?.decode(Int.self, at: 0) == 0)

        let outcome = try await DreamClassClient.withClient(configuration: Self.configuration(url)) { next in
            try await ReconcileJob(options: .init(schema: "dreamclass", tenant: Self.tenant))
                .run(connection: connection, lockConnection: try database.connect(), client: next, now: Self.now)
        }
        await simulator.stop()
        #expect(outcome.run.status == .drift)
        #expect(outcome.items.count == 13)
        // A killed run never counts as the previous complete run.
        #expect(outcome.run.newItems == 13)
    }

    @Test func runAndBackfillKilledAtRandomPointsConverge() async throws {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant)
        settings.latency = .milliseconds(1) ... .milliseconds(15)
        let simulator = DreamClassSimulator(school: Self.scenario.schoolAfter, settings: settings)
        let url = try await simulator.start()
        let environment = [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": Self.tenant,
            "DATABASE_URL": database.conninfo, "LOG_LEVEL": "error",
        ]
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        var random = SeededRandom(seed: 99)
        for attempt in 0..<20 {
            // `run --backfill`, killed after a random delay: before, during or after either part.
            // Whatever earlier kills left behind, it either ends by itself (0 in sync, 2 drift,
            // 75 incomplete) or dies of the kill (137): never an error or a crash.
            let delay = Double(Int.random(in: 20...400, using: &random)) / 1000
            let script = """
                "$0" run --settle 0 --report /dev/null --backfill --backfill-report /dev/null 2>/dev/null &
                pid=$!; sleep \(delay); kill -9 $pid 2>/dev/null; wait $pid; echo "exit=$?"
                """
            let result = await Command.run("/bin/sh", ["-c", script, binary], environment: environment)
            let code = result.stdout.split(separator: "\n").last { $0.hasPrefix("exit=") }.flatMap { Int32($0.dropFirst(5)) }
            #expect(code.map { [0, 2, 75, 137].contains($0) } == true, "attempt \(attempt): exit \(code.map(String.init) ?? "?"); \(result.stderr)")
        }
        // Afterwards one clean run and backfill, not killed, must converge.
        let final = await Command.run(binary, ["run", "--settle", "0", "--report", "/dev/null", "--backfill", "--backfill-report", "/dev/null"], environment: environment)
        #expect([0, 2].contains(final.status), "\(final.stdout)\n\(final.stderr)")
        let check = await Command.run(binary, ["run", "--settle", "0", "--report", "/dev/null"], environment: environment)
        await simulator.stop()
        #expect(check.stdout.hasPrefix("ok: 0 missed creates, 0 missed updates, 0 missed deletes, 0 stale deletes"), "\(check.stdout)\n\(check.stderr)")

        // No event stored twice, none lost: one backfill event per repair, each linked once.
        let counts = try connection.query("""
            SELECT count(*), count(DISTINCT event_id),
                   (SELECT count(*) FROM dreamclass.backfill_events),
                   (SELECT count(DISTINCT (student_period_id, kind)) FROM dreamclass.backfill_events)
            FROM dreamclass.webhook_events WHERE source = 'backfill'
            """).first!
        let (rows, distinct, linked, repairs) = try counts.decode(Int.self, Int.self, Int.self, Int.self)
        #expect(rows == distinct)
        #expect(linked == rows)
        #expect(repairs == 13)
        #expect(try connection.query("SELECT count(*) FROM dreamclass.reconcile_runs WHERE status = 'running' AND finished_at IS NOT NULL").first?.decode(Int.self, at: 0) == 0)
    }
}
