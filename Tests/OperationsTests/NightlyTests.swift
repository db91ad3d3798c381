import DreamClassAPI
import DreamClassSimulator
import Foundation
import Testing
import TestSupport

/// `cron/dreamclass-reconcile-nightly` end to end: two schools from one configuration file, one of
/// them failing, reports kept per day, old ones deleted, metrics and pings per school.
@Suite struct NightlyTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func twoSchoolsOneFailingGiveTheWorstCodeAndKeepTheGoodOnesReport() async throws {
        let database = try TestPostgres.makeDatabase("nightly")
        let work = FileManager.default.temporaryDirectory.appending(path: "nightly-\(UUID().uuidString)")
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
        try """
            defaults:
              settle: 0
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
        let result = await Command.run(Self.packageRoot.appending(path: "cron/dreamclass-reconcile-nightly").path, [], environment: environment)
        await north.stop()
        await south.stop()
        await pings.stop()

        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("school north: exit 0"))
        #expect(result.stdout.contains("school south: exit 1"))
        #expect(result.stderr.contains("HTTP 401"))
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
        #expect(broken.status == 64)
        #expect(broken.stderr.contains("defaults.max_attempts_are_not_a_setting_here: is not a setting"))
    }

    @Test func flagsWinOverTheFile() async throws {
        let database = try TestPostgres.makeDatabase("flags")
        let work = FileManager.default.temporaryDirectory.appending(path: "flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
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
}
