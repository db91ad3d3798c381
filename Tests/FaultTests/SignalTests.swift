import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import TestSupport
import Testing

/// A run, an ingest or a backfill stopped by SIGTERM or SIGINT, as systemd and Kubernetes stop
/// jobs, or killed outright: never left `running`, never half-told.
@Suite struct SignalTests {
    static let tenant = "signal-school"
    static let now = Date()
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("signals")
    }

    /// Starts `dreamclass-reconcile ARGUMENTS`, sends it `signal` once `ready` says so (polled,
    /// at most 60 s), and returns its exit code as the shell saw it, and its output.
    func interrupted(
        _ arguments: [String], signal: String, environment: [String: String], when ready: @escaping @Sendable () throws -> Bool
    ) async throws -> (code: Int32?, Command.Result) {
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let flag = NSTemporaryDirectory() + "signal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: flag) }
        let script = #"f=$1; shift; "$0" "$@" & pid=$!; while [ ! -e "$f" ]; do sleep 0.05; done; kill -\#(signal) $pid; wait $pid; echo "exit=$?" >&2"#
        async let run = Command.run("/bin/sh", ["-c", script, binary, flag] + arguments, environment: environment)
        // Signalled anyway when it never gets ready: the process must not outlive the test.
        try? await waitUntil("the command to get under way", interval: .milliseconds(20), ready)
        FileManager.default.createFile(atPath: flag, contents: nil)
        let result = await run
        let code = result.stderr.split(separator: "\n").last { $0.hasPrefix("exit=") }.flatMap { Int32($0.dropFirst(5)) }
        return (code, result)
    }

    /// Once the run is under way: its row is there and it has read a roster.
    func runIsUnderWay(_ simulator: DreamClassSimulator) -> @Sendable () throws -> Bool {
        let database = self.database
        return {
            let running = try database.connect().query("SELECT count(*) FROM dreamclass.reconcile_runs WHERE status = 'running'")
            return try running.first?.decode(Int.self, at: 0) == 1 && simulator.statistics.count(.periodStudents) > 0
        }
    }

    func slowSimulator() async throws -> (DreamClassSimulator, [String: String]) {
        let school = School.generate(periods: 10, studentsPerPeriod: 5, seed: 12, today: Self.now)
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant)
        settings.latency = .milliseconds(400) ... .milliseconds(400)
        let simulator = DreamClassSimulator(school: school, settings: settings)
        let url = try await simulator.start()
        return (simulator, [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": Self.tenant,
            "DREAMCLASS_CONCURRENCY": "1", "DATABASE_URL": database.conninfo, "LOG_LEVEL": "error",
        ])
    }

    func runs() throws -> [RunRecord] {
        try RunStore(schema: "dreamclass").recentRuns(tenant: Self.tenant, limit: 10, on: connection)
    }

    @Test(arguments: [("TERM", Int32(143)), ("INT", Int32(130))])
    func aSignalledRunIsRecordedInterruptedWritesNoReportAndFreesTheLock(signal: String, code: Int32) async throws {
        let (simulator, environment) = try await slowSimulator()
        let report = NSTemporaryDirectory() + "signalled-\(UUID().uuidString).csv"
        let (exit, result) = try await interrupted(["run", "--report", report], signal: signal, environment: environment, when: runIsUnderWay(simulator))
        #expect(exit == code, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: report))
        let first = try #require(try runs().first)
        #expect(first.status == .interrupted)
        #expect(first.error == "interrupted by SIG\(signal)")
        #expect(first.finishedAt != nil)
        // The lock is free: the next run starts and finishes.
        let next = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--allow-mass-create"], environment: environment)
        await simulator.stop()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try runs().map(\.status) == [.drift, .interrupted])
    }

    @Test func aKilledRunIsMarkedAbandonedByTheNextOne() async throws {
        let (simulator, environment) = try await slowSimulator()
        let (exit, _) = try await interrupted(["run", "--report", "/dev/null"], signal: "KILL", environment: environment, when: runIsUnderWay(simulator))
        #expect(exit == 137)
        #expect(try runs().map(\.status) == [.running])
        let next = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--allow-mass-create"], environment: environment)
        await simulator.stop()
        #expect(next.status == 0, "\(next.stderr)")
        let after = try runs()
        #expect(after.map(\.status) == [.drift, .abandoned])
        #expect(after.last?.error?.contains("ended without finishing") == true)
        let listed = await Command.run("dreamclass-reconcile", ["runs"], environment: environment)
        #expect(listed.stdout.contains("\tabandoned\t"))
    }

    @Test func aSignalledIngestCommitsWhatItCountsAndSaysSo() async throws {
        // A file fed slowly through a pipe: the signal comes while lines are still arriving.
        let lines = (0..<3_000).map { _ in
            WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_CREATED", tenant: Self.tenant, timestampMillis: 1_727_862_002_901, signature: nil,
                                 data: Enrollment(id: 1, studentId: 2, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
        }
        let file = NSTemporaryDirectory() + "slow-\(UUID().uuidString).jsonl"
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let flag = NSTemporaryDirectory() + "signal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: flag) }
        // Signalled once its first batch is stored, while lines still arrive.
        let script = #"(while read -r line; do echo "$line"; sleep 0.01; done < "$1") | "$0" ingest --batch-size 50 - & pid=$!; while [ ! -e "$2" ]; do sleep 0.05; done; kill -TERM $pid; wait $pid; echo "exit=$?" >&2"#
        async let run = Command.run("/bin/bash", ["-c", script, binary, file, flag], environment: ["DATABASE_URL": database.conninfo, "LOG_LEVEL": "error"])
        // A loaded machine (the whole suite at once on two cores) may take long to store it.
        try? await waitUntil("the first batch to be stored", timeout: .seconds(240), interval: .milliseconds(20)) {
            try connection.query("SELECT count(*) FROM dreamclass.webhook_events").first?.decode(Int.self, at: 0) != 0
        }
        FileManager.default.createFile(atPath: flag, contents: nil)
        let result = await run
        #expect(result.stderr.contains("exit=143"), "\(result.stderr)")
        #expect(result.stderr.contains("interrupted by SIGTERM"), "\(result.stderr)")
        let counts = result.stdout.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let stored = try connection.query("SELECT count(*) FROM dreamclass.webhook_events").first?.decode(Int.self, at: 0)
        #expect(counts.count == 4, "\(result.stdout)")
        #expect(counts.first.map { $0 > 0 && $0 < 3_000 } == true, "\(result.stdout)")
        #expect(counts.dropFirst().first == stored)
    }
}
