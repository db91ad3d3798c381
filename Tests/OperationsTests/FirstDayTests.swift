import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The first day (docs/operations.md) on one machine, as processes: `migrate`, `serve`, the simulator
/// delivering the school's webhooks with an outage in them, then `run`, which finds the outage.
@Suite struct FirstDayTests {
    /// Starts `command` in the background (stdout to `folder/name.out`); returns its pid.
    static func background(_ name: String, in folder: String, _ command: [String], environment: [String: String]) async throws -> Int32 {
        let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let result = await Command.run("/bin/sh", ["-c", #"\#(quoted) >"$0/\#(name).out" 2>"$0/\#(name).err" </dev/null & echo $! >"$0/\#(name).pid""#, folder],
                                       environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        return Int32(try String(contentsOfFile: "\(folder)/\(name).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func output(_ name: String, in folder: String) -> String {
        (try? String(contentsOfFile: "\(folder)/\(name).out", encoding: .utf8)) ?? ""
    }

    @Test func serveThenTheSimulatorsDeliveriesThenRunFindsTheOutage() async throws {
        let database = try TestPostgres.makeDatabase("first-day")
        let folder = try temporaryFolder("first-day").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let binary = Command.buildDirectory + "/dreamclass-reconcile", simulator = Command.buildDirectory + "/dreamclass-sim"
        let secret = Data("first day \(UUID())".utf8).base64EncodedString()
        let environment = [
            "DATABASE_URL": database.conninfo, "DREAMCLASS_WEBHOOK_SECRET": secret, "DREAMCLASS_API_KEY": "sim-key",
            "DREAMCLASS_SCHOOL_CODE": "SIM", "DREAMCLASS_TENANT": "first-school", "LOG_LEVEL": "warning",
        ]
        let migrate = await Command.run(binary, ["migrate"], environment: environment)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let serve = try await Self.background("serve", in: folder, [binary, "serve", "--port", "0", "--timestamp-window", "0"],
                                              environment: environment.merging(["LOG_LEVEL": "notice"]) { $1 })
        defer { kill(serve, SIGTERM) }
        var hook = ""
        try await waitUntil("serve listens", timeout: .seconds(60), interval: .milliseconds(50)) {
            hook = Command.servingURL(loggedIn: "\(folder)/serve.err") ?? ""
            return !hook.isEmpty
        }
        let sim = try await Self.background("sim", in: folder, [
            simulator, "--periods", "3", "--students-per-period", "30", "--outage-changes", "2",
            "--deliver", hook,
        ], environment: environment)
        defer { kill(sim, SIGTERM) }
        try await waitUntil("the simulator delivered", timeout: .seconds(120), interval: .milliseconds(100)) {
            Self.output("sim", in: folder).contains("delivered ")
        }
        let simulated = Self.output("sim", in: folder)
        #expect(!simulated.contains("refused"), "\(simulated)")
        let url = try #require(simulated.split(separator: "\n").first { $0.hasPrefix("listening on ") }.map { String($0.dropFirst("listening on ".count)) })

        let run = await Command.run(binary, ["run", "--report", folder + "/drift.csv", "--settle", "0"],
                                    environment: environment.merging(["DREAMCLASS_BASE_URL": url]) { $1 })
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)\n\(Self.output("serve", in: folder))")
        // The outage kept back two creates, two updates and two deletes: the run finds them.
        #expect(run.stdout.hasPrefix("drift: 2 missed creates, 2 missed updates, 2 missed deletes"), "\(run.stdout)")
        #expect(FileManager.default.fileExists(atPath: folder + "/drift.csv"))
    }
}
