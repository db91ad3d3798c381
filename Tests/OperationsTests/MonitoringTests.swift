import AsyncHTTPClient
import EventStore
import Foundation
import Models
import Monitoring
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct MonitoringTests {
    @Test func metricsAreInPrometheusTextFormatAndReplacedWhole() throws {
        var run = RunRecord(runID: 12, tenant: "north", scope: "all", startedAt: Date(timeIntervalSince1970: 1_700_000_000), status: .drift)
        run.missedCreates = 3
        run.staleDeletes = 1
        run.apiCalls = 31
        run.apiRetries = 2
        run.eventsRead = 4210
        let samples = [
            MetricsFile.Sample(tenant: "north", status: .drift, finishedAt: Date(timeIntervalSince1970: 1_700_000_100), seconds: 1.5, run: run),
            MetricsFile.Sample(tenant: #"so"uth"#, status: .failed, finishedAt: Date(timeIntervalSince1970: 1_700_000_100), seconds: 0.25, run: nil),
        ]
        let text = MetricsFile.render(samples)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE dreamclass_reconcile_last_run_status gauge"))
        #expect(lines.contains(#"dreamclass_reconcile_last_run_timestamp_seconds{tenant="north"} 1700000100"#))
        #expect(lines.contains(#"dreamclass_reconcile_last_run_duration_seconds{tenant="north"} 1.5"#))
        #expect(lines.contains(#"dreamclass_reconcile_last_run_status{tenant="north",status="drift"} 1"#))
        #expect(lines.contains(#"dreamclass_reconcile_last_run_status{tenant="north",status="ok"} 0"#))
        #expect(lines.contains(#"dreamclass_reconcile_last_run_status{tenant="so\"uth",status="failed"} 1"#))
        #expect(lines.contains(#"dreamclass_reconcile_drift{tenant="north",kind="missed_create"} 3"#))
        #expect(lines.contains(#"dreamclass_reconcile_drift{tenant="north",kind="stale_delete"} 1"#))
        #expect(lines.contains(#"dreamclass_reconcile_api_calls{tenant="north"} 31"#))
        #expect(lines.contains(#"dreamclass_reconcile_events_read{tenant="north"} 4210"#))
        #expect(!text.contains(#"drift{tenant="so\"uth""#))

        let directory = FileManager.default.temporaryDirectory.appending(path: "metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "dreamclass.prom").path
        try MetricsFile.write(samples, to: path)
        let inode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        try MetricsFile.write(Array(samples.prefix(1)), to: path)
        // A new file renamed over the old one: a reader holds either the old or the new, never half.
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int != inode)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == MetricsFile.render(Array(samples.prefix(1))))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["dreamclass.prom"])
    }

    @Test func pingsGoToStartThenSuccessOrFailWithOneRunID() async throws {
        let server = RecordingServer()
        let base = try await server.start()
        let ping = HealthPing(url: base + "/ping/abc/")
        await ping.send(.start)
        await ping.send(.success, body: "north: drift")
        await ping.send(.fail)
        await server.stop()
        let rid = ping.invocation.uuidString.lowercased()
        #expect(server.requests.withLock { $0 } == [
            "POST /ping/abc/start?rid=\(rid)", "POST /ping/abc?rid=\(rid)", "POST /ping/abc/fail?rid=\(rid)",
        ])
    }

    /// The Grafana dashboard and the alert rules shipped in `cron/` use only metrics the job
    /// writes, with the labels it writes.
    @Test func theDashboardAndAlertsUseOnlyMetricsTheJobWrites() throws {
        var run = RunRecord(runID: 1, tenant: "north", scope: "all", startedAt: Date(timeIntervalSince1970: 1_700_000_000), status: .drift)
        run.missedCreates = 1
        let text = MetricsFile.render([MetricsFile.Sample(tenant: "north", status: .drift, finishedAt: Date(), seconds: 1, run: run)])
        let written = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let statuses = Set(text.split(separator: "\n").compactMap { line in line.range(of: #"status=""#).map { String(line[$0.upperBound...].prefix { $0 != "\"" }) } })
        let cron = NightlyTests.packageRoot.appending(path: "cron")
        for file in ["grafana-dashboard.json", "prometheus-alerts.yaml"] {
            let shipped = try String(contentsOf: cron.appending(path: file), encoding: .utf8)
            let used = shipped.matches(of: /dreamclass_reconcile_[a-z_]+/).map { String($0.output) }
            #expect(!used.isEmpty)
            for name in used { #expect(written.contains(name), "\(file) uses \(name), which the job does not write") }
            for status in shipped.matches(of: /status=~"([a-z|]+)"/).flatMap({ $0.output.1.split(separator: "|") }) {
                #expect(statuses.contains(String(status)), "\(file) asks for status \(status)")
            }
        }
        #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: cron.appending(path: "grafana-dashboard.json"))) is [String: Any])
    }

    /// Prometheus's own checker accepts the rules and the metrics, and the held-deletes alert
    /// fires on one held delete and stays quiet on none (`promtool test rules`).
    @Test func promtoolAcceptsTheRulesAndTheMetricsAndTheHeldDeletesAlertFires() async throws {
        var run = RunRecord(runID: 1, tenant: "north", scope: "all", startedAt: Date(timeIntervalSince1970: 1_700_000_000), status: .drift)
        run.missedDeletes = 4
        run.heldDeletes = 4
        let folder = try temporaryFolder("promtool").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try MetricsFile.write([MetricsFile.Sample(tenant: "north", status: .drift, finishedAt: Date(), seconds: 1, run: run)], to: folder + "/run.prom")
        let metrics = try String(contentsOfFile: folder + "/run.prom", encoding: .utf8)
        #expect(metrics.contains(#"dreamclass_reconcile_held_deletes{tenant="north"} 4"#))
        let rules = NightlyTests.packageRoot.appending(path: "cron/prometheus-alerts.yaml").path
        try """
            rule_files: [\(rules)]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'dreamclass_reconcile_held_deletes{tenant="north"}'
                    values: '4x10'
                  - series: 'dreamclass_reconcile_held_deletes{tenant="south"}'
                    values: '0x10'
                alert_rule_test:
                  - eval_time: 5m
                    alertname: DreamClassReconcileDeletesHeld
                    exp_alerts:
                      - exp_labels: {severity: warning, tenant: north}
                        exp_annotations:
                          summary: "4 deletes of north held by the mass-delete guard"
                          description: "Review the night's backfill report; if the deletes are right, run `dreamclass-reconcile backfill --run ID --allow-mass-delete`."
            """.write(toFile: folder + "/held.test.yaml", atomically: true, encoding: .utf8)
        for (arguments, what) in [(["check", "rules", rules], "the rules"), (["test", "rules", folder + "/held.test.yaml"], "the held-deletes alert")] {
            let result = await Command.run("/usr/bin/promtool", arguments)
            #expect(result.status == 0, "promtool on \(what): \(result.stdout)\n\(result.stderr)")
        }
        let checked = await Command.run("/bin/sh", ["-c", #"/usr/bin/promtool check metrics < "$0""#, folder + "/run.prom"])
        #expect(checked.status == 0, "promtool check metrics: \(checked.stdout)\n\(checked.stderr)")
    }

    /// A real Pushgateway (Debian's, started here on loopback): each school its own group, the
    /// same families as the textfile; a failed run keeps the last success's gauge as it was.
    @Test func metricsPushedToAPushgatewayKeepTheLastSuccessThroughAFailure() async throws {
        let folder = try temporaryFolder("pushgateway").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Port 0: the kernel picks it as the Pushgateway binds, and its log says which. A port
        // picked here beforehand could be taken by another socket of the busy suite meanwhile.
        _ = await Command.run("/bin/sh", ["-c", #"/usr/bin/prometheus-pushgateway --web.listen-address=127.0.0.1:0 >"$0/log" 2>&1 & echo $! >"$0/pid""#, folder])
        defer { _ = kill(pid_t((try? String(contentsOfFile: folder + "/pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0, SIGTERM) }
        func log() -> String { (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? "" }
        var port = 0
        do {
            try await waitUntil("the Pushgateway listens", timeout: .seconds(60), interval: .milliseconds(50)) {
                // `msg="Listening on" address=127.0.0.1:41234`
                guard let line = log().split(separator: "\n").first(where: { $0.contains(#"msg="Listening on""#) }),
                      let listening = line.split(separator: ":").last.flatMap({ Int($0) }) else { return false }
                port = listening
                return FreePort.answers(port: port)
            }
        } catch {
            Issue.record("\(error); its log:\n\(log())")
            return
        }
        let base = "http://127.0.0.1:\(port)"
        func scraped() async throws -> String {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(30))
            return String(buffer: try await response.body.collect(upTo: 4 << 20))
        }
        var run = RunRecord(runID: 7, tenant: "a b/c", scope: "all", startedAt: Date(timeIntervalSince1970: 1_700_000_000), status: .drift)
        run.missedDeletes = 2
        run.heldDeletes = 2
        let push = MetricsPush(url: base)
        try await push.push([MetricsFile.Sample(tenant: "a b/c", status: .drift, finishedAt: Date(timeIntervalSince1970: 1_800_000_000), seconds: 3, run: run)])
        let afterSuccess = try await scraped()
        let group = #"job="dreamclass-reconcile",tenant="a b/c""#
        #expect(afterSuccess.contains(#"dreamclass_reconcile_last_success_timestamp_seconds{instance="",\#(group)} 1.8e+09"#), "\(afterSuccess)")
        #expect(afterSuccess.contains(#"dreamclass_reconcile_held_deletes{instance="",\#(group)} 2"#))

        // The binary's own push, of a run that failed (the database is out of reach).
        let failed = await Command.run("dreamclass-reconcile", ["run", "--metrics-push", base, "--database", "host=/nonexistent"], environment: [
            "DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "a b/c", "DREAMCLASS_BASE_URL": "http://127.0.0.1:9/v1",
        ])
        #expect(failed.status == 75, "\(failed.stderr)")
        let afterFailure = try await scraped()
        #expect(afterFailure.contains(#"dreamclass_reconcile_last_run_status{instance="",job="dreamclass-reconcile",status="failed",tenant="a b/c"} 1"#), "\(afterFailure)")
        #expect(afterFailure.contains(#"dreamclass_reconcile_last_success_timestamp_seconds{instance="",\#(group)} 1.8e+09"#), "the last success stays")
        // What was pushed is valid exposition format.
        try MetricsFile.render([MetricsFile.Sample(tenant: "a b/c", status: .failed, finishedAt: Date(), seconds: 1, run: nil)]).write(toFile: folder + "/failed.prom", atomically: true, encoding: .utf8)
        let checked = await Command.run("/bin/sh", ["-c", #"/usr/bin/promtool check metrics < "$0""#, folder + "/failed.prom"])
        #expect(checked.status == 0, "\(checked.stdout)\n\(checked.stderr)")
    }

    /// Both binaries say which release they are, of which commit, and how the Swift runtime is
    /// linked (the test build loads the toolchain's; a release build carries it).
    @Test func bothBinariesTellTheirVersionCommitAndRuntime() async throws {
        let version = try String(contentsOf: NightlyTests.packageRoot.appending(path: "VERSION"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let head = await Command.run("/usr/bin/git", ["-C", NightlyTests.packageRoot.path, "rev-parse", "HEAD"])
        for binary in ["dreamclass-reconcile", "dreamclass-sim"] {
            let result = await Command.run(binary, ["--version"])
            #expect(result.status == 0, "\(binary): \(result.stderr)")
            #expect(result.stdout.hasPrefix("\(version) (commit "), "\(binary): \(result.stdout)")
            if head.status == 0 { #expect(result.stdout.contains("commit \(head.stdout.prefix(12))"), "\(binary): \(result.stdout)") }
            #expect(result.stdout.contains("Swift runtime from the shared libraries of the Swift toolchain"), "\(binary): \(result.stdout)")
        }
    }

    /// The man page shipped in `cron/` (generated by swift-argument-parser's `generate-manual`)
    /// names every subcommand and option the binary has: it is regenerated when they change.
    @Test func theShippedManPageIsCurrent() async throws {
        let page = try String(contentsOf: NightlyTests.packageRoot.appending(path: "cron/dreamclass-reconcile.1"), encoding: .utf8)
        let dump = await Command.run("dreamclass-reconcile", ["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var missing: [String] = []
        func visit(_ command: [String: Any]) {
            let name = command["commandName"] as? String ?? ""
            if name != "help", command["shouldDisplay"] as? Bool != false, !page.contains("Em \(name)") && !page.contains("Nm \(name)") {
                missing.append("command \(name)")
            }
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool != false {
                for case let long as [String: String] in argument["names"] as? [Any] ?? [] where long["kind"] == "long" {
                    if !page.contains("Fl -\(long["name"] ?? "")") { missing.append("\(name) --\(long["name"] ?? "")") }
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { visit(sub) }
        }
        visit(try #require(root["command"] as? [String: Any]))
        #expect(missing.isEmpty, "cron/dreamclass-reconcile.1 is stale (regenerate it, see the README's \"Working on it\"): \(missing)")
    }

    /// The Kubernetes CronJob runs `run` with options the binary has, and mounts secrets as files.
    @Test func theKubernetesCronJobUsesOptionsTheBinaryHas() async throws {
        let manifest = try String(contentsOf: NightlyTests.packageRoot.appending(path: "cron/kubernetes-cronjob.yaml"), encoding: .utf8)
        let help = await Command.run("dreamclass-reconcile", ["run", "--help"])
        let flags = manifest.split(separator: "\n").compactMap { line -> String? in
            let item = line.trimmingCharacters(in: .whitespaces)
            guard item.hasPrefix("- --") else { return nil }
            return String(item.dropFirst(2).prefix { $0 != "=" })
        }
        #expect(flags.contains("--fresh-within") && flags.contains("--all-tenants"))
        for flag in flags { #expect(help.stdout.contains(flag), "\(flag) is not an option of `run`") }
        #expect(manifest.contains("concurrencyPolicy: Forbid"))
        #expect(!manifest.contains("DREAMCLASS_API_KEY:"), "API keys are mounted files, not environment values")
    }
}
