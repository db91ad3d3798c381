import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Testing
import TestSupport

/// `cron/dreamclass-reconcile-nightly` end to end: two schools from one configuration file, one of
/// them failing, reports kept per day, old ones deleted, metrics and pings per school.
@Suite struct NightlyTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func twoSchoolsOneFailingGiveTheWorstCodeAndKeepTheGoodOnesReport() async throws {
        let database = try TestPostgres.makeDatabase("nightly")
        let work = try temporaryFolder("nightly")
        defer { try? FileManager.default.removeItem(at: work) }
        let reports = work.appending(path: "reports")
        let metrics = work.appending(path: "metrics")
        try FileManager.default.createDirectory(at: metrics, withIntermediateDirectories: true)
        let old = reports.appending(path: "2026-01-01/drift-north-20260101T021500Z.csv")
        try FileManager.default.createDirectory(at: old.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "old".write(to: old, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-40 * 86_400)], ofItemAtPath: old.path)

        let north = DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 4, seed: 1),
                                        settings: SimulatorSettings(apiKey: "north-key", schoolCode: "N", tenant: "north"))
        let south = DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 4, seed: 2),
                                        settings: SimulatorSettings(apiKey: "south-key", schoolCode: "S", tenant: "south"))
        let pings = RecordingServer()
        let (northURL, southURL, pingURL) = (try await north.start(), try await south.start(), try await pings.start())
        try "north-key".write(to: work.appending(path: "north.key"), atomically: true, encoding: .utf8)
        try "not-south-key".write(to: work.appending(path: "south.key"), atomically: true, encoding: .utf8)
        let config = work.appending(path: "schools.yaml")
        try """
            defaults:
              settle: 0
              max_attempts_are_not_a_setting_here: true
            """.write(to: work.appending(path: "broken.yaml"), atomically: true, encoding: .utf8)
        // North's roster is all new to the store: more than the default share, so allowed here.
        try """
            defaults:
              settle: 0
              max_creates: 100%
            schools:
              north:
                base_url: \(northURL)
                school_code: N
                api_key_file: \(work.appending(path: "north.key").path)
              south:
                base_url: \(southURL)
                school_code: S
                api_key_file: \(work.appending(path: "south.key").path)
            """.write(to: config, atomically: true, encoding: .utf8)

        let environment = [
            "DREAMCLASS_CONFIG": config.path, "DATABASE_URL": database.conninfo, "REPORT_DIR": reports.path, "KEEP_DAYS": "7",
            "METRICS_DIR": metrics.path, "PING_URL": pingURL + "/hc", "DREAMCLASS_RECONCILE": Command.buildDirectory + "/dreamclass-reconcile",
            "DREAMCLASS_MAX_ATTEMPTS": "1",
        ]
        // North's store holds an event (of an enrollment DreamClass no longer lists), so its
        // missed creates are not suspect.
        let store = try database.connect()
        try Migrator(schema: "dreamclass").migrate(store)
        try store.ingest([WebhookEnvelope.body(id: UUID(), type: "STUDENT_PERIOD_DELETED", tenant: "north", timestampMillis: 1_727_862_002_901,
                                               signature: nil, data: Enrollment(id: 9_999_001, studentId: 1, active: false, addedAt: "2024-10-02T09:40:02.179+00:00"))])
        let result = await Command.run(Self.packageRoot.appending(path: "cron/dreamclass-reconcile-nightly").path, [], environment: environment)
        await north.stop()
        await south.stop()
        await pings.stop()

        // A refused key is the configuration code, the night's worst.
        #expect(result.status == 78, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("school north: exit 0"))
        #expect(result.stdout.contains("school south: exit 78"))
        #expect(result.stderr.contains("HTTP 401"))
        // The key came from the file: the message names the file's key, not the environment's.
        #expect(result.stderr.contains("\(config.path):12: schools.south.api_key_file"), "\(result.stderr)")
        let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        let kept = try FileManager.default.contentsOfDirectory(atPath: reports.appending(path: today).path)
        #expect(kept.contains { $0.hasPrefix("drift-north-") && $0.hasSuffix(".csv") })
        #expect(!FileManager.default.fileExists(atPath: old.path))
        #expect(!FileManager.default.fileExists(atPath: old.deletingLastPathComponent().path))
        let southMetrics = try String(contentsOf: metrics.appending(path: "dreamclass-reconcile-south.prom"), encoding: .utf8)
        #expect(southMetrics.contains(#"dreamclass_reconcile_last_run_status{tenant="south",status="failed"} 1"#))
        let northMetrics = try String(contentsOf: metrics.appending(path: "dreamclass-reconcile-north.prom"), encoding: .utf8)
        #expect(northMetrics.contains(#"dreamclass_reconcile_drift{tenant="north",kind="missed_create"} 8"#))
        let paths = pings.requests.withLock { $0 }.map { $0.split(separator: "?").first.map(String.init) ?? "" }
        #expect(paths == ["POST /hc/north/start", "POST /hc/north", "POST /hc/south/start", "POST /hc/south/fail"])
        for text in [result.stdout, result.stderr] { #expect(!text.contains("north-key") && !text.contains("not-south-key")) }

        // A broken file is refused before any school runs, naming the key.
        let broken = await Command.run("dreamclass-reconcile", ["config", "check", "--offline", "--config", work.appending(path: "broken.yaml").path])
        #expect(broken.status == 78)
        #expect(broken.stderr.contains("defaults.max_attempts_are_not_a_setting_here: is not a setting"))
    }

    @Test func flagsWinOverTheFile() async throws {
        let database = try TestPostgres.makeDatabase("flags")
        let work = try temporaryFolder("flags")
        defer { try? FileManager.default.removeItem(at: work) }
        let simulator = DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 3, seed: 1),
                                            settings: SimulatorSettings(apiKey: "k", schoolCode: "N", tenant: "north"))
        let url = try await simulator.start()
        try "k".write(to: work.appending(path: "key"), atomically: true, encoding: .utf8)
        try """
            schools:
              north:
                base_url: \(url)
                school_code: N
                api_key_file: \(work.appending(path: "key").path)
                scope: current
            """.write(to: work.appending(path: "s.yaml"), atomically: true, encoding: .utf8)
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let result = await Command.run("dreamclass-reconcile", [
            "run", "--config", work.appending(path: "s.yaml").path, "--period", "999", "--report", "-", "--database", database.conninfo,
        ])
        await simulator.stop()
        #expect(result.status == 75)
        #expect(result.stderr.contains("period 999 is not in the school's period list"))
    }

    /// `migrate` behind another that holds the schema's migration lock waits no longer than its
    /// `--deadline` (nine tenths of it; 10 minutes without one), then exits 75 saying why.
    @Test func migrateBehindAnotherMigrationExits75WhenItsDeadlinePasses() async throws {
        let database = try TestPostgres.makeDatabase("nightly-migrate-busy")
        let holder = try database.connect()
        try holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", ["dreamclass-reconcile:migrate:dreamclass"])
        let result = await Command.run("dreamclass-reconcile", ["migrate", "--deadline", "2s", "--database", database.conninfo])
        #expect(result.status == 75, "\(result.stderr)")
        // It gives up at 1.8 s, or when the deadline passes first on a busy machine: the same error.
        #expect(result.stderr.contains(#"error: another migration of schema "dreamclass" held its lock for all of the "#), "\(result.stderr)")
        #expect(result.stderr.contains("try again later"), "\(result.stderr)")
    }

    @Test func aSchoolNamedLikeAPathWritesOnlyInsideTheFolders() async throws {
        let database = try TestPostgres.makeDatabase("nightly-names")
        let work = try temporaryFolder("names")
        let reports = work.appending(path: "deep/reports"), metrics = work.appending(path: "deep/metrics")
        defer { try? FileManager.default.removeItem(at: work) }
        let name = "a/../../../x y"
        let simulator = DreamClassSimulator(school: .generate(periods: 1, studentsPerPeriod: 2, seed: 1),
                                            settings: SimulatorSettings(apiKey: "k", schoolCode: "N", tenant: "t"))
        let url = try await simulator.start()
        try "k".write(to: work.appending(path: "key"), atomically: true, encoding: .utf8)
        try """
            schools:
              "\(name)":
                base_url: \(url)
                school_code: N
                tenant: t
                api_key_file: \(work.appending(path: "key").path)
              "-rf":
                base_url: \(url)
                school_code: N
                tenant: t
                api_key_file: \(work.appending(path: "key").path)
            """.write(to: work.appending(path: "s.yaml"), atomically: true, encoding: .utf8)
        let result = await Command.run(Self.packageRoot.appending(path: "cron/dreamclass-reconcile-nightly").path, [], environment: [
            "DREAMCLASS_CONFIG": work.appending(path: "s.yaml").path, "DATABASE_URL": database.conninfo, "REPORT_DIR": reports.path,
            "METRICS_DIR": metrics.path, "DREAMCLASS_RECONCILE": Command.buildDirectory + "/dreamclass-reconcile",
        ])
        await simulator.stop()
        // The store holds no event of the tenant: the run is recorded and reported, and its
        // suspect creates make the configuration code the night's.
        #expect(result.status == 78, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("school \(name): exit 78"))
        // A name that starts with - is passed as a value, never taken for an option.
        #expect(result.stdout.contains("school -rf: exit 78"), "\(result.stdout)\n\(result.stderr)")
        let safe = "a__________x_y"
        let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
        let kept = try FileManager.default.contentsOfDirectory(atPath: reports.appending(path: today).path)
        #expect(kept.contains { $0.hasPrefix("drift-\(safe)-") } && kept.contains { $0.hasPrefix("drift--rf-") }, "\(kept)")
        #expect(FileManager.default.fileExists(atPath: metrics.appending(path: "dreamclass-reconcile-\(safe).prom").path))
        #expect(FileManager.default.fileExists(atPath: metrics.appending(path: "dreamclass-reconcile--rf.prom").path))
        // The wrapper's report folders are private; the metrics folder the tool makes is readable
        // by node_exporter (another user), whatever the umask.
        func mode(_ url: URL) throws -> Int? { try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int }
        #expect(try mode(reports.appending(path: today)) == 0o700)
        #expect(try mode(metrics) == 0o755)
        #expect(try mode(metrics.appending(path: "dreamclass-reconcile-\(safe).prom")) == 0o644)
        // Nothing anywhere else under the work folder: only what was put there, and the two folders.
        let everything = try FileManager.default.subpathsOfDirectory(atPath: work.path).filter { !$0.hasPrefix("deep/") }
        #expect(Set(everything) == ["key", "s.yaml", "deep"])
        let listed = await Command.run("dreamclass-reconcile", ["config", "schools", "--file-names", "--config", work.appending(path: "s.yaml").path])
        #expect(listed.stdout == "\(safe)\t\(name)\n-rf\t-rf\n")
    }

    /// Every command line the README and `docs/` show is one the binary takes (the benchmarks'
    /// too): each is run with `--help` appended, which parses every option it names and runs nothing.
    @Test func theREADMEsCommandLinesParse() async throws {
        let docs = Self.packageRoot.appending(path: "docs")
        let pages = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: docs.path)).filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        #expect(pages.count >= 7, "\(pages)")
        let readme = try pages.map { try String(contentsOf: Self.packageRoot.appending(path: $0), encoding: .utf8) }.joined(separator: "\n")
        var commands: [[String]] = []
        var inBlock = false
        var pending = ""
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inBlock.toggle(); pending = ""; continue }
            guard inBlock else { continue }
            var text = pending + line.trimmingCharacters(in: .whitespaces)
            if text.hasSuffix("\\") { pending = String(text.dropLast()) + " "; continue }
            pending = ""
            if let comment = text.range(of: "   #") ?? text.range(of: "  #") { text = String(text[..<comment.lowerBound]) }
            let words = text.split(separator: " ").map(String.init)
            // The binaries, after environment assignments, `sudo -u x sh -c '...` wrappers aside.
            guard let index = words.firstIndex(where: { ["dreamclass-reconcile", "dreamclass-sim", "dreamclass-bench"].contains($0) }),
                  words[..<index].allSatisfy({ $0.contains("=") || ["run", "swift", ".ci/setup", "&&", "-c", "release"].contains($0) }) else { continue }
            // Optional parts `[--flag VALUE]` are taken as given.
            commands.append(words[index...].map { $0.filter { $0 != "[" && $0 != "]" } }.filter { !$0.isEmpty && $0 != "..." })
        }
        #expect(commands.count >= 15, "\(commands)")
        // Each of the tour's steps is among them.
        for job in ["migrate", "serve", "ingest", "run", "runs", "report", "explain", "backfill"] {
            #expect(commands.contains { $0.count > 1 && $0[0] == "dreamclass-reconcile" && $0[1] == job }, "no \(job) in the README or docs/")
        }
        for command in commands {
            let result = await Command.run(command[0], Array(command.dropFirst()) + ["--help"])
            #expect(result.status == 0, "README: \(command.joined(separator: " ")): \(result.stderr)")
        }
    }
}
