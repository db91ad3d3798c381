import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Postgres
import PostgresServer
import ReconcileJob
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SecurityTests {
    /// A self-signed certificate for 127.0.0.1, and `openssl s_server` serving it on a free port.
    static func tlsServer() async throws -> (url: String, ca: String, stop: @Sendable () -> Void) {
        let directory = try temporaryFolder("tls").path
        let made = await Command.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(directory)/key.pem", "-out", "\(directory)/cert.pem",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let port = 20_000 + Int.random(in: 0..<20_000)
        let pidFile = "\(directory)/pid"
        _ = await Command.run("/bin/sh", ["-c", "openssl s_server -quiet -accept \(port) -cert \(directory)/cert.pem -key \(directory)/key.pem -www </dev/null >/dev/null 2>&1 & echo $! > \(pidFile)"])
        // Wait until it accepts connections (s_client connects whatever it thinks of the certificate).
        for _ in 0..<40 {
            let probe = await Command.run("/bin/sh", ["-c", "openssl s_client -connect 127.0.0.1:\(port) </dev/null"])
            if probe.status == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return ("https://127.0.0.1:\(port)/dreamclassapi/v1", "\(directory)/cert.pem", {
            if let number = Int32(pid) { kill(number, SIGKILL) }
            try? FileManager.default.removeItem(atPath: directory)
        })
    }

    @Test func aSelfSignedServerIsRefusedUnlessItsCAIsGiven() async throws {
        let (url, ca, stop) = try await Self.tlsServer()
        defer { stop() }
        let refusing = try DreamClassClient(configuration: DreamClassConfiguration(baseURL: url, apiKey: "k", schoolCode: "S", tenant: "t", maxAttempts: 1))
        let refused = await #expect(throws: DreamClassError.self) { try await refusing.periods() }
        try await refusing.shutdown()
        #expect(refused?.description.contains("TLS failed") == true, "\(String(describing: refused))")

        // With its CA trusted the handshake succeeds: what fails now is that s_server is no DreamClass.
        let trusting = try DreamClassClient(configuration: DreamClassConfiguration(
            baseURL: url, apiKey: "k", schoolCode: "S", tenant: "t", maxAttempts: 1, caBundlePath: ca))
        let answered = await #expect(throws: DreamClassError.self) { try await trusting.periods() }
        try await trusting.shutdown()
        #expect(answered?.description.contains("TLS failed") == false, "\(String(describing: answered))")
    }

    @Test func aTenantNameWithQuotesAndSemicolonsIsJustAName() async throws {
        let tenant = #"x'); DROP TABLE dreamclass.webhook_events; --"#
        let database = try TestPostgres.makeDatabase("tenant")
        let connection = try database.connect()
        try Migrator(schema: "dreamclass").migrate(connection)
        let school = School.generate(periods: 1, studentsPerPeriod: 3, seed: 1)
        try connection.ingest(OutageScenario.make(school: school, tenant: tenant, outageChanges: 1).storedWebhooks)
        let simulator = DreamClassSimulator(school: school, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: tenant))
        let outcome = try await JobHarness.reconcile(simulator, database: database, connection: connection, options: .init(schema: "dreamclass", tenant: tenant))
        #expect(outcome.run.tenant == tenant)
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events WHERE tenant = $1", [tenant]).first?.decode(Int.self, at: 0) ?? 0 > 0)
    }

    @Test func aRestartedDatabaseFailsTheRunAndTheNextOneSucceeds() async throws {
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let connection = try Connection(conninfo: server.conninfo())
        try Migrator(schema: "dreamclass").migrate(connection)
        let school = School.generate(periods: 4, studentsPerPeriod: 10, seed: 5)
        try connection.ingest(OutageScenario.make(school: school, tenant: "restart", outageChanges: 1).storedWebhooks)
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: "restart")
        settings.latency = .milliseconds(150) ... .milliseconds(150)
        let simulator = DreamClassSimulator(school: school, settings: settings)
        let url = try await simulator.start()
        let client = try DreamClassClient(configuration: DreamClassConfiguration(baseURL: url, apiKey: "k", schoolCode: "S", tenant: "restart"))
        let lock = try Connection(conninfo: server.conninfo())
        let run = Task { try await ReconcileJob(options: .init(schema: "dreamclass", tenant: "restart")).run(connection: connection, lockConnection: lock, client: client) }
        try await waitUntil("the run to read a roster") { simulator.statistics.count(.periodStudents) > 0 }
        try server.restart()
        let result = await run.result
        #expect(throws: PostgresError.self) { try result.get() }

        let fresh = try Connection(conninfo: server.conninfo())
        let statuses = try fresh.query("SELECT status FROM dreamclass.reconcile_runs").rows.map { try $0.decode(String.self, at: 0) }
        #expect(statuses == ["running"])
        let outcome = try await ReconcileJob(options: .init(schema: "dreamclass", tenant: "restart"))
            .run(connection: fresh, lockConnection: try Connection(conninfo: server.conninfo()), client: client)
        try await client.shutdown()
        await simulator.stop()
        #expect(outcome.run.status == .drift)
    }
}
