import DreamClassAPI
import EventStore
import Foundation
import Hummingbird
import Models
import Postgres
import Testing
import TestSupport

/// The secrets a school configures never come back out: not from a server that echoes the
/// request's headers, not from a key file with a second line, not from a connection URI libpq
/// cannot read; on stderr, in the logs at trace, in the run's stored error and in `runs`.
@Suite struct SecretsTests {
    static let apiKey = "api-\(UUID().uuidString)"
    static let webhookSecret = Data("webhook-\(UUID())".utf8).base64EncodedString()
    static let deliverPassword = "deliver-\(UUID().uuidString)"

    static func leaks(_ texts: [String]) -> [String] {
        [apiKey, webhookSecret, deliverPassword].filter { secret in texts.contains { $0.contains(secret) } }
    }

    @Test func aServerThatEchoesTheKeyNeverGetsItPrinted() async throws {
        let (database, connection) = try TestPostgres.makeStore("secrets")
        // DreamClass's look-alike answers 400 and quotes every header it was sent.
        let echo = TestHTTPServer { request in
            let headers = request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
            return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "bad request; you sent: \(headers)")))
        }
        let url = try await echo.start()
        let folder = try temporaryFolder("secrets").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.apiKey.write(toFile: folder + "/key", atomically: true, encoding: .utf8)
        try "schools:\n  echo:\n    base_url: \(url)/v1\n    school_code: S\n    api_key_file: \(folder)/key\n    max_attempts: 1\n"
            .write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "DATABASE_URL": database.conninfo, "DREAMCLASS_WEBHOOK_SECRET": Self.webhookSecret, "DREAMCLASS_DELIVER_PASSWORD": Self.deliverPassword,
            "DREAMCLASS_API_KEY": "", "DREAMCLASS_TENANT": "",
        ]
        let run = await Command.run("dreamclass-reconcile", ["run", "--config", folder + "/s.yaml", "--report", "/dev/null", "--log-level", "trace"],
                                    environment: environment)
        let check = await Command.run("dreamclass-reconcile", ["config", "check", "--config", folder + "/s.yaml", "--log-level", "trace"],
                                      environment: environment)
        let runs = await Command.run("dreamclass-reconcile", ["runs"], environment: environment)
        await echo.stop()
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("HTTP 400") && run.stderr.contains("[redacted]"), "\(run.stderr)")
        #expect(check.status != 0 && check.stderr.contains("HTTP 400"), "\(check.stderr)")
        let stored = try connection.query("SELECT coalesce(string_agg(error, ' '), '') FROM dreamclass.reconcile_runs").first?.decode(String.self, at: 0) ?? ""
        #expect(stored.contains("HTTP 400"), "\(stored)")
        #expect(Self.leaks([run.stdout, run.stderr, check.stdout, check.stderr, runs.stdout, runs.stderr, stored]).isEmpty)
    }

    @Test func aKeyFileWithASecondLineIsRefusedNamingTheFileNotTheContent() async throws {
        let folder = try temporaryFolder("secrets").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "\(Self.apiKey)\nrotated-2026-11\n".write(toFile: folder + "/two-lines.key", atomically: true, encoding: .utf8)
        try "\(Self.apiKey)\u{7}".write(toFile: folder + "/bell.key", atomically: true, encoding: .utf8)
        for file in ["two-lines.key", "bell.key"] {
            try "schools:\n  north:\n    base_url: http://127.0.0.1:9/v1\n    school_code: S\n    api_key_file: \(folder)/\(file)\n"
                .write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
            let check = await Command.run("dreamclass-reconcile", ["config", "check", "--offline", "--config", folder + "/s.yaml"])
            let run = await Command.run("dreamclass-reconcile", ["run", "--config", folder + "/s.yaml", "--database", "host=/nonexistent"])
            let environment = await Command.run("dreamclass-reconcile", ["run", "--database", "host=/nonexistent"], environment: [
                "DREAMCLASS_API_KEY": "", "DREAMCLASS_API_KEY_FILE": "\(folder)/\(file)", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": "t",
            ])
            for result in [check, run, environment] {
                #expect(result.status == 78, "\(file): \(result.stderr)")
                #expect(result.stderr.contains("\(folder)/\(file), whose content is not one line of printable text"), "\(file): \(result.stderr)")
            }
            #expect(Self.leaks([check.stdout, check.stderr, run.stderr, environment.stderr]).isEmpty, "\(file)")
        }
    }

    @Test func aConnectionURIWhosePasswordHoldsASlashIsRefusedWithoutShowingIt() async throws {
        let result = await Command.run("dreamclass-reconcile", ["runs"], environment: ["DATABASE_URL": "postgresql://someone:s3cr/Et99@127.0.0.1/db"])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("percent-encode it"), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cr") && !result.stderr.contains("Et99"), "\(result.stderr)")
    }
}
