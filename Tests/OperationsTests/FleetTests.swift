import DreamClassSimulator
import Foundation
import Postgres
import Testing
import TestSupport

/// Several `run --all-tenants --fresh-within` workers share the schools of one configuration
/// through PostgreSQL: every school gets one complete run, none two, even when a worker dies.
@Suite(.serialized) struct FleetTests {
    static let schools = 30

    struct Fleet {
        var database: TestDatabase
        var work: URL
        var config: URL
        var simulators: [DreamClassSimulator]
    }

    static func makeFleet(_ label: String) async throws -> Fleet {
        let database = try TestPostgres.makeDatabase(label)
        let work = try temporaryFolder(label)
        try "fleet-key".write(to: work.appending(path: "key"), atomically: true, encoding: .utf8)
        var simulators: [DreamClassSimulator] = []
        var yaml = "defaults:\n  settle: 0\n  report_dir: \(work.appending(path: "reports").path)\n  api_key_file: \(work.appending(path: "key").path)\nschools:\n"
        for index in 0..<schools {
            var settings = SimulatorSettings(apiKey: "fleet-key", schoolCode: "F", tenant: "school-\(index)")
            // Slow enough that the workers' runs overlap.
            settings.latency = .milliseconds(80) ... .milliseconds(120)
            let simulator = DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 3, seed: UInt64(index + 1)), settings: settings)
            yaml += "  school-\(index):\n    base_url: \(try await simulator.start())\n    school_code: F\n"
            simulators.append(simulator)
        }
        let config = work.appending(path: "schools.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        return Fleet(database: database, work: work, config: config, simulators: simulators)
    }

    /// Starts a worker in the background; its pid goes to `pidFile`, its exit status to stdout. Its
    /// database sessions carry `name` (PGAPPNAME), so a test can see which locks it holds.
    static func worker(_ fleet: Fleet, pidFile: URL, name: String = "fleet-worker") async -> Command.Result {
        let script = #""$0" run --all-tenants --fresh-within 1h --parallel 1 --skip-student-details --allow-mass-create & echo $! > "$1"; wait $!; echo "exit=$?""#
        return await Command.run("/bin/bash", ["-c", script, Command.buildDirectory + "/dreamclass-reconcile", pidFile.path], environment: [
            "DREAMCLASS_CONFIG": fleet.config.path, "DATABASE_URL": fleet.database.conninfo, "LOG_LEVEL": "error", "PGAPPNAME": name,
        ])
    }

    /// Complete runs (ok or drift) per tenant.
    static func completeRuns(_ connection: Connection) throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try connection.query(
            "SELECT tenant, count(*) FROM dreamclass.reconcile_runs WHERE status IN ('ok', 'drift') GROUP BY tenant"
        ).rows.map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) })
    }

    static func stop(_ fleet: Fleet) async {
        for simulator in fleet.simulators { await simulator.stop() }
        try? FileManager.default.removeItem(at: fleet.work)
    }

    /// Which server processes serve each worker (by its PGAPPNAME), looked at every 10 ms until
    /// the task is cancelled.
    static func watchSessions(_ fleet: Fleet) throws -> Task<[String: Set<Int32>], any Error> {
        let watcher = try fleet.database.connect()
        return Task {
            var sessions: [String: Set<Int32>] = [:]
            while !Task.isCancelled {
                for row in try watcher.query("SELECT application_name, pid FROM pg_stat_activity WHERE application_name LIKE 'fleet-worker-%'").rows {
                    sessions[try row.decode(String.self, at: 0), default: []].insert(try row.decode(Int32.self, at: 1))
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return sessions
        }
    }

    @Test func threeWorkersRunEverySchoolOnceAndNoneTwice() async throws {
        let fleet = try await Self.makeFleet("fleet")
        let watching = try Self.watchSessions(fleet)
        let results = await withTaskGroup(of: Command.Result.self) { group in
            for index in 0..<3 {
                group.addTask { await Self.worker(fleet, pidFile: fleet.work.appending(path: "pid-\(index)"), name: "fleet-worker-\(index)") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        watching.cancel()
        let sessions = try await watching.value
        await Self.stop(fleet)
        // Each worker keeps its two connections from school to school.
        #expect(sessions.count == 3 && sessions.values.allSatisfy { $0.count == 2 }, "\(sessions)")
        for result in results { #expect(result.stdout.contains("exit=0"), "\(result.stdout)\n\(result.stderr)") }
        let runs = try Self.completeRuns(try fleet.database.connect())
        #expect(runs.count == Self.schools)
        #expect(runs.values.allSatisfy { $0 == 1 }, "\(runs.filter { $0.value != 1 })")
        // The work was shared: no worker ran them all.
        let ran = results.map { $0.stdout.components(separatedBy: "drift:").count - 1 }
        #expect(ran.reduce(0, +) == Self.schools)
        #expect(ran.allSatisfy { $0 < Self.schools }, "\(ran)")
    }

    /// A school whose run fails (DreamClass answers 503 and no retry is allowed) rolls back and
    /// records its failure; the worker goes on to the next schools on the same two connections.
    @Test func aFailedSchoolLeavesItsConnectionsFitForTheNext() async throws {
        let fleet = try await Self.makeFleet("fleet-fail")
        fleet.simulators[1].settings.nextStatuses = [503]
        let watching = try Self.watchSessions(fleet)
        let script = #""$0" run --all-tenants --parallel 1 --skip-student-details --allow-mass-create; echo "exit=$?""#
        let result = await Command.run("/bin/bash", ["-c", script, Command.buildDirectory + "/dreamclass-reconcile"], environment: [
            "DREAMCLASS_CONFIG": fleet.config.path, "DATABASE_URL": fleet.database.conninfo, "LOG_LEVEL": "error",
            "PGAPPNAME": "fleet-worker-alone", "DREAMCLASS_MAX_ATTEMPTS": "1",
        ])
        watching.cancel()
        let sessions = try await watching.value
        await Self.stop(fleet)
        // A 503 with no retry left is "try again later".
        #expect(result.stdout.contains("exit=75"), "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("HTTP 503"), "\(result.stderr)")
        let connection = try fleet.database.connect()
        let runs = try Self.completeRuns(connection)
        #expect(runs.count == Self.schools - 1 && runs["school-1"] == nil && runs.values.allSatisfy { $0 == 1 }, "\(runs)")
        let failed = try connection.query("SELECT tenant FROM dreamclass.reconcile_runs WHERE status = 'failed'").rows.map { try $0.decode(String.self, at: 0) }
        #expect(failed == ["school-1"])
        #expect(sessions["fleet-worker-alone"]?.count == 2, "\(sessions)")
    }

    @Test func aWorkerKilledMidRunLeavesItsSchoolToTheOthers() async throws {
        let fleet = try await Self.makeFleet("fleet-kill")
        let connection = try fleet.database.connect()
        let victim = fleet.work.appending(path: "pid-victim")
        async let others = withTaskGroup(of: Command.Result.self) { group in
            for index in 0..<2 { group.addTask { await Self.worker(fleet, pidFile: fleet.work.appending(path: "pid-\(index)")) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        async let killed = Self.worker(fleet, pidFile: victim, name: "fleet-victim")
        // Once the fleet is under way and the victim is mid-school (its run row started, its lock held), kill it.
        try await waitUntil("the victim to be in the middle of a school", timeout: .seconds(120), interval: .milliseconds(10)) {
            let done = try connection.query("SELECT count(*) FROM dreamclass.reconcile_runs WHERE status IN ('ok', 'drift')").first?.decode(Int.self, at: 0) ?? 0
            // A `running` row whose tenant's run lock (RunLock's key) the victim's session holds.
            let holding = try connection.query("""
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                JOIN dreamclass.reconcile_runs r ON r.status = 'running'
                    AND hashtextextended('dreamclass-reconcile:run:dreamclass:' || r.tenant, 0) = ((l.classid::bigint << 32) | l.objid::bigint)
                WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'fleet-victim'
                """).first?.decode(Int.self, at: 0) ?? 0
            return done >= 3 && holding > 0 && FileManager.default.fileExists(atPath: victim.path)
        }
        let pid = try String(contentsOf: victim, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = await Command.run("/bin/sh", ["-c", "kill -9 \(pid)"])
        let (survivors, dead) = await (others, killed)
        #expect(dead.stdout.contains("exit=137"), "\(dead.stdout)")
        for result in survivors { #expect(result.stdout.contains("exit=0"), "\(result.stdout)\n\(result.stderr)") }
        let runs = try Self.completeRuns(connection)
        // The school it died in kept its `running` row (or the next run marked it `abandoned`): never a complete run.
        let unfinished = try connection.query(
            "SELECT count(*) FROM dreamclass.reconcile_runs WHERE status IN ('running', 'abandoned')"
        ).first?.decode(Int.self, at: 0) ?? 0
        await Self.stop(fleet)
        #expect(unfinished >= 1, "the victim was killed mid-school")
        #expect(runs.count == Self.schools, "every school completed, the dead worker's too")
        #expect(runs.values.allSatisfy { $0 == 1 }, "\(runs.filter { $0.value != 1 })")
    }
}
