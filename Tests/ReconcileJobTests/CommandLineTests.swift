import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Testing
import TestSupport

/// `dreamclass-reconcile` as a user runs it: its output and exit codes.
@Suite struct CommandLineTests {
    let database: TestDatabase
    static let apiKey = "cli-secret-\(UUID().uuidString)"

    init() throws {
        database = try TestPostgres.makeDatabase("cli")
    }

    func reconcile(_ arguments: [String], simulator: DreamClassSimulator) async throws -> Command.Result {
        let url = try await simulator.start()
        defer { Task { await simulator.stop() } }
        let result = await Command.run("dreamclass-reconcile", arguments + ["--database", database.conninfo], environment: [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": Self.apiKey, "DREAMCLASS_SCHOOL_CODE": "S",
            "DREAMCLASS_TENANT": "cli-school", "DREAMCLASS_MAX_ATTEMPTS": "2",
        ])
        await simulator.stop()
        return result
    }

    static func simulator(failing: Set<Int> = []) -> DreamClassSimulator {
        var settings = SimulatorSettings(apiKey: apiKey, schoolCode: "S", tenant: "cli-school")
        settings.failingPeriods = failing
        return DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 5, seed: 3), settings: settings)
    }

    @Test func exitCodesSayWhatHappened() async throws {
        let migrate = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        #expect(migrate.status == 0, "\(migrate.stderr)")
        #expect(migrate.stdout.contains("applied"))

        let report = FileManager.default.temporaryDirectory.appending(path: "cli-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        // The store holds no event of the tenant: every enrollment a missed create is suspect.
        let suspect = try await reconcile(["run", "--report", report], simulator: Self.simulator())
        #expect(suspect.status == 78, "\(suspect.stderr)")
        #expect(suspect.stdout.hasPrefix("drift: 10 missed creates"))
        #expect(suspect.stderr.contains("the store holds no event of tenant \"cli-school\""))
        #expect(suspect.stderr.contains("--allow-mass-create"))

        let drift = try await reconcile(["run", "--report", report, "--allow-mass-create"], simulator: Self.simulator())
        #expect(drift.status == 0, "\(drift.stderr)")
        #expect(drift.stdout.hasPrefix("drift: 10 missed creates, 0 missed updates, 0 missed deletes, 0 stale deletes (0 new, 10 persisting, 0 resolved)"))
        #expect(drift.stdout.contains("report: \(report)"))
        #expect(FileManager.default.fileExists(atPath: report))

        let detailed = try await reconcile(["run", "--detailed-exitcode", "--report", report, "--allow-mass-create"], simulator: Self.simulator())
        #expect(detailed.status == 2)
        #expect(detailed.stdout.contains("(0 new, 10 persisting, 0 resolved)"))

        let incomplete = try await reconcile(["run", "--detailed-exitcode", "--report", report], simulator: Self.simulator(failing: [100]))
        #expect(incomplete.status == 75)
        #expect(incomplete.stdout.contains("incomplete: period 100"))

        let toStdout = try await reconcile(["run", "--report", "-", "--format", "json", "--allow-mass-create"], simulator: Self.simulator())
        #expect(toStdout.status == 0)
        #expect(toStdout.stdout.hasPrefix("[{\"run_id\":"))
        #expect(toStdout.stderr.contains("drift: 10 missed creates"))

        let runs = await Command.run("dreamclass-reconcile", ["runs", "--database", database.conninfo])
        #expect(runs.stdout.split(separator: "\n").count == 6)
        let again = await Command.run("dreamclass-reconcile", ["report", "--run", "1", "--database", database.conninfo])
        #expect(again.stdout.hasPrefix("run_id,tenant,kind"))
        #expect(again.stdout.split(separator: "\r\n").count == 11)

        let missing = "/nonexistent/webhooks-\(UUID().uuidString).jsonl"
        let unreadable = await Command.run("dreamclass-reconcile", ["ingest", missing, "--database", database.conninfo])
        #expect(unreadable.status == 64)
        #expect(unreadable.stderr.contains("cannot open \(missing) for reading: No such file or directory"))

        for result in [suspect, drift, detailed, incomplete, toStdout, runs, again] {
            #expect(!result.stdout.contains(Self.apiKey) && !result.stderr.contains(Self.apiKey))
        }
    }

    @Test func explainAnswersWhyForAReportsRowAndSaysWhereItLookedForAnUnknownOne() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let run = try await reconcile(["run", "--report", "-", "--allow-mass-create"], simulator: Self.simulator())
        #expect(run.status == 0, "\(run.stderr)")
        // A row of the report, as a person would pick it: its student_period_id and its reason.
        let row = run.stdout.components(separatedBy: "\r\n")[1].components(separatedBy: ",")
        let id = row[5]
        #expect(run.stdout.contains("; we hold no usable event for it."))

        let text = await Command.run("dreamclass-reconcile", ["explain", id, "--tenant", "cli-school", "--database", database.conninfo])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("Enrollment \(id) of tenant cli-school, against run 1"))
        #expect(text.stdout.contains("Events we hold (0, oldest first):"))
        #expect(text.stdout.contains("Verdict: missed_create"))
        #expect(text.stdout.contains("Repair: not_backfilled"))
        #expect(text.stdout.contains("backfill --run 1"))

        let json = await Command.run("dreamclass-reconcile", ["explain", id, "--format", "json", "--database", database.conninfo],
                                     environment: ["DREAMCLASS_TENANT": "cli-school"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["verdict"] as? [String: Any])?["kind"] as? String == "missed_create")
        #expect(object?["student_period_id"] as? Int == Int(id))

        // --live asks the simulator now, with the same settings a run takes.
        let simulator = Self.simulator()
        let url = try await simulator.start()
        let live = await Command.run("dreamclass-reconcile", ["explain", id, "--live", "--database", database.conninfo], environment: [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": Self.apiKey, "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "cli-school",
        ])
        await simulator.stop()
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stdout.contains("Now (--live, nothing recorded): missed_create"))
        #expect(!live.stdout.contains(Self.apiKey) && !live.stderr.contains(Self.apiKey))

        let unknown = await Command.run("dreamclass-reconcile", ["explain", "987654", "--tenant", "cli-school", "--database", database.conninfo])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("looked in webhook_events, enrollment_states and drift_items"))
        let noTenant = await Command.run("dreamclass-reconcile", ["explain", id, "--database", database.conninfo], environment: ["DREAMCLASS_TENANT": ""])
        #expect(noTenant.status == 64)
        #expect(noTenant.stderr.contains("name the tenant"))
    }

    @Test func logsAreJSONLinesWithTheRunAndTenantAndNoSecret() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let simulator = Self.simulator()
        simulator.settings.nextStatuses = [503]
        simulator.settings.retryAfterSeconds = 0
        // While it runs, no process on the machine has the key in its arguments.
        let watching = Task {
            var seen = 0
            while !Task.isCancelled {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
                    guard let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
                    let text = String(decoding: cmdline, as: UTF8.self)
                    if text.contains("dreamclass-reconcile") { seen += 1 }
                    #expect(!text.contains(Self.apiKey))
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return seen
        }
        let result = try await reconcile(["run", "--report", "-", "--log-format", "json", "--log-level", "debug", "--allow-mass-create"], simulator: simulator)
        watching.cancel()
        #expect(await watching.value > 0)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(objects.count == lines.count)
        let retries = objects.filter { $0["message"] == "retrying" }
        #expect(retries.count == 1)
        #expect(retries.allSatisfy { $0["run"] == "1" && $0["tenant"] == "cli-school" && $0["level"] == "debug" })
        #expect(!result.stderr.contains(Self.apiKey))
    }

    @Test func badUsageIs64AndAMissingSettingIs78AndNamed() async throws {
        let usage = await Command.run("dreamclass-reconcile", ["run", "--settle", "soon"])
        #expect(usage.status == 64)
        #expect(usage.stderr.contains("--settle"))
        let missing = await Command.run("dreamclass-reconcile", ["run", "--database", database.conninfo], environment: ["DREAMCLASS_API_KEY": "", "DREAMCLASS_TENANT": ""])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("DREAMCLASS_API_KEY is not set"))
    }

    /// "Try again later" is 75 whatever says it: DreamClass asking for a day, PostgreSQL out of reach.
    @Test func throttlingBeyondTheCapAndAnUnreachableDatabaseAre75() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let simulator = Self.simulator()
        simulator.settings.nextStatuses = [429]
        simulator.settings.retryAfterSeconds = 86_400
        let throttled = try await reconcile(["run", "--report", "/dev/null"], simulator: simulator)
        #expect(throttled.status == 75, "\(throttled.stderr)")
        #expect(throttled.stderr.contains("HTTP 429") && throttled.stderr.contains("Retry-After 86400"), "\(throttled.stderr)")

        let url = try await Self.simulator().start()
        let unreachable = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--database", "host=/nonexistent-\(UUID().uuidString)"], environment: [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": Self.apiKey, "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "cli-school",
        ])
        #expect(unreachable.status == 75, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("PostgreSQL"), "\(unreachable.stderr)")

        // A refused connection reads as one plain sentence, and a wrong database name is a setting (78).
        let refused = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null"], environment: [
            "DREAMCLASS_BASE_URL": "http://127.0.0.1:9/v1", "DREAMCLASS_API_KEY": Self.apiKey, "DREAMCLASS_SCHOOL_CODE": "S",
            "DREAMCLASS_TENANT": "cli-school", "DREAMCLASS_MAX_ATTEMPTS": "1", "DATABASE_URL": database.conninfo,
        ])
        #expect(refused.status == 75, "\(refused.stderr)")
        #expect(refused.stderr.contains("connection failed: Connection refused"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("errno"), "\(refused.stderr)")
        let noDatabase = await Command.run("dreamclass-reconcile", ["runs", "--database", database.conninfo + " dbname=no_such_database"])
        #expect(noDatabase.status == 78, "\(noDatabase.stderr)")
    }

    /// A setting a person must fix is 78, naming it: a school the file lacks, a key file that cannot be read.
    @Test func aSchoolNotInTheFileAndAnUnreadableKeyAre78() async throws {
        let folder = try temporaryFolder("cli-config").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "schools:\n  north:\n    school_code: N\n    api_key_file: \(folder)/north.key\n".write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
        let noSchool = await Command.run("dreamclass-reconcile", ["run", "--config", folder + "/s.yaml", "--school", "south", "--database", database.conninfo])
        #expect(noSchool.status == 78, "\(noSchool.stderr)")
        #expect(noSchool.stderr.contains("schools.south: no such school; the file has north"), "\(noSchool.stderr)")
        let unreadable = await Command.run("dreamclass-reconcile", ["run", "--database", database.conninfo], environment: [
            "DREAMCLASS_API_KEY": "", "DREAMCLASS_API_KEY_FILE": folder + "/missing.key", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "t",
        ])
        #expect(unreadable.status == 78, "\(unreadable.stderr)")
        #expect(unreadable.stderr.contains("DREAMCLASS_API_KEY_FILE names \(folder)/missing.key, which cannot be read"), "\(unreadable.stderr)")
    }

    /// A ping that cannot be sent is a warning in the log's own format, like every other line.
    @Test func pingWarningsFollowTheLogFormat() async throws {
        let result = await Command.run("dreamclass-reconcile", ["run", "--ping", "http://127.0.0.1:9/hc", "--log-format", "json", "--database", "host=/nonexistent"],
                                       environment: ["DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "t"])
        #expect(result.status == 75, "\(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("health ping could not be sent") }
        #expect(warnings.count == 2, "\(result.stderr)")
        #expect(warnings.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }, "\(warnings)")
    }

    @Test func aSecondRunWhileOneHoldsTheLockExits75() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let holder = try database.connect()
        let lock = try #require(try RunLock.acquire(schema: "dreamclass", tenant: "cli-school", connection: holder))
        defer { lock.release() }
        let refused = try await reconcile(["run", "--report", "-"], simulator: Self.simulator())
        #expect(refused.status == 75)
        #expect(refused.stderr.contains("another reconciliation of tenant \"cli-school\" is running"))
    }

    @Test func outputThatCannotBeWrittenIsAClearErrorNotACrash() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let full = try await reconcile(["run", "--report", "/dev/full"], simulator: Self.simulator())
        #expect(full.status == 1, "\(full.stdout)\n\(full.stderr)")
        #expect(full.stderr.contains("cannot write to /dev/full: \(String(cString: strerror(ENOSPC)))"))

        // `runs | head -1` after the reader is gone: the write fails with EPIPE, reported, exit 1.
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let piped = await Command.run("/bin/bash", [
            "-c", #"{ sleep 0.5; "$0" runs --database "$1"; echo "exit=$?" >&2; } | true"#, binary, database.conninfo,
        ])
        #expect(piped.stderr.contains("exit=1"), "\(piped.stderr)")
        #expect(piped.stderr.contains("cannot write to <stdout>: the reader closed the pipe"), "\(piped.stderr)")
    }

    @Test func reportsArePrivateUnderTheUsualUmask() async throws {
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let folder = NSTemporaryDirectory() + "cli-reports-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let simulator = Self.simulator()
        let url = try await simulator.start()
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let result = await Command.run("/bin/sh", ["-c", #"umask 022; exec "$0" run --report "$1/new/drift.csv" --allow-mass-create --database "$2""#, binary, folder, database.conninfo], environment: [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": Self.apiKey, "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "cli-school",
        ])
        await simulator.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/new/drift.csv")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: folder + "/new")[.posixPermissions] as? Int == 0o700)
    }
}
