import AsyncHTTPClient
import DreamClassSimulator
import EventStore
import Foundation
import Models
import NIOCore
import Postgres
import Receiver
import TestSupport
import Testing

/// Another session holds `ACCESS EXCLUSIVE` on `webhook_events` (a long migration, VACUUM FULL,
/// an operator's LOCK TABLE): every command ends by its deadline with "try again later", names
/// the lock wait, and records what it can; the receiver answers 503 before DreamClass gives up.
@Suite struct LockedTableTests {
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("locked")
        try connection.ingest(FaultTests.scenario.storedWebhooks)
    }

    @Test func aTableLockedElsewhereEndsRunIngestBackfillAndServeByTheirDeadlines() async throws {
        let simulator = DreamClassSimulator(school: FaultTests.scenario.schoolAfter,
                                            settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: FaultTests.tenant))
        let url = try await simulator.start()
        let environment = [
            "DREAMCLASS_BASE_URL": url, "DREAMCLASS_API_KEY": "k", "DREAMCLASS_SCHOOL_CODE": "S", "DREAMCLASS_TENANT": FaultTests.tenant,
            "DATABASE_URL": database.conninfo,
        ]
        let first = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--skip-student-details"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let file = NSTemporaryDirectory() + "locked-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try FaultTests.scenario.storedWebhooks.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)

        // Deadlines of several seconds: setting up (connections, the migration check) takes a part
        // of each, and on a busy machine a large one; the lock wait takes the rest.
        let holder = try database.connect()
        try holder.begin()
        try holder.execute("LOCK TABLE dreamclass.webhook_events IN ACCESS EXCLUSIVE MODE")

        let run = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--deadline", "10s", "--skip-student-details"], environment: environment)
        #expect(run.status == 75, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.contains("waited for a lock until the deadline"), "\(run.stderr)")
        let recorded = try #require(try RunStore(schema: "dreamclass").recentRuns(tenant: FaultTests.tenant, limit: 1, on: connection).first)
        #expect(recorded.status == .failed)
        #expect(recorded.error?.contains("waited for a lock") == true, "\(recorded.error ?? "")")

        let ingest = await Command.run("dreamclass-reconcile", ["ingest", file, "--deadline", "8s"], environment: environment)
        #expect(ingest.status == 75, "\(ingest.stdout)\n\(ingest.stderr)")
        #expect(ingest.stderr.contains("waited for a lock"), "\(ingest.stderr)")

        // The backfill's deadline comes from the school's section of the file.
        try "k".write(toFile: file + ".key", atomically: true, encoding: .utf8)
        try """
            schools:
              locked:
                tenant: \(FaultTests.tenant)
                school_code: S
                api_key_file: \(file).key
                deadline: 8s
            """.write(toFile: file + ".yaml", atomically: true, encoding: .utf8)
        defer { for suffix in [".key", ".yaml"] { try? FileManager.default.removeItem(atPath: file + suffix) } }
        let backfill = await Command.run("dreamclass-reconcile", ["backfill", "--run", "1", "--config", file + ".yaml", "--backfill-report", "/dev/null"],
                                         environment: environment)
        #expect(backfill.status == 75, "\(backfill.stdout)\n\(backfill.stderr)")
        #expect(backfill.stderr.contains("waited for a lock"), "\(backfill.stderr)")

        // The receiver answers 503 (DreamClass tries again) well before DreamClass's 10 s.
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.timestampWindow = nil
        options.databaseTimeout = .seconds(1)
        let receiver = WebhookReceiver(options: options) { [database] in try database.connect() }
        let hook = try await receiver.start()
        let id = UUID()
        let body = WebhookEnvelope.body(id: id, type: "STUDENT_PERIOD_CREATED", tenant: FaultTests.tenant, timestampMillis: 1_727_862_002_901,
                                        signature: nil, data: Enrollment(id: 9_999_001, studentId: 1, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
        var request = HTTPClientRequest(url: hook)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        let refused = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(refused.status.code == 503)

        holder.rollback()
        // With the lock gone, the same delivery is stored, and the same commands work again.
        let stored = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(stored.status.code == 200)
        await receiver.stop()
        let again = await Command.run("dreamclass-reconcile", ["ingest", file, "--deadline", "30s"], environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        let next = await Command.run("dreamclass-reconcile", ["run", "--report", "/dev/null", "--deadline", "60s", "--skip-student-details"], environment: environment)
        await simulator.stop()
        #expect(next.status == 0, "\(next.stderr)")
    }

    /// Deliveries queued for the receiver's one connection while the table is locked: each ends
    /// when its own 2 s are up, in the queue if the connection is still taken, and is answered
    /// 503, rather than wait out the timeouts of all those ahead of it (sixteen in line would take
    /// 32 s, and DreamClass gives up after 10). The log says which waited for a connection. Sent
    /// again once the lock is gone, each is stored.
    ///
    /// How long an answer took is not asserted (the suite runs on two busy cores); that a queued
    /// delivery gave up in the queue is, and it never does when the queue has no deadline.
    @Test func deliveriesQueuedBehindALockedTableEndByTheirOwnTimeout() async throws {
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.timestampWindow = nil
        options.connections = 1
        options.databaseTimeout = .seconds(2)
        let capture = LogCapture()
        let receiver = WebhookReceiver(options: options, logger: capture.logger(label: "serve")) { [database] in try database.connect() }
        let hook = try await receiver.start()
        let requests = (1...16).map { index in
            var request = HTTPClientRequest(url: hook)
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: WebhookEnvelope.body(
                id: UUID(), type: "STUDENT_PERIOD_CREATED", tenant: FaultTests.tenant, timestampMillis: 1_727_862_002_901, signature: nil,
                data: Enrollment(id: 9_998_000 + index, studentId: 1, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))))
            return request
        }
        @Sendable func deliver(_ request: HTTPClientRequest) async -> String {
            do { return "\(try await HTTPClient.shared.execute(request, timeout: .seconds(120)).status.code)" } catch { return "\(error)" }
        }
        let holder = try database.connect()
        try holder.begin()
        try holder.execute("LOCK TABLE dreamclass.webhook_events IN ACCESS EXCLUSIVE MODE")
        let locked = await withTaskGroup(of: String.self) { group in
            for request in requests { group.addTask { await deliver(request) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        holder.rollback()
        #expect(locked == Array(repeating: "503", count: requests.count))
        let errors = capture.messages.filter { $0.hasPrefix("error webhook not stored: database busy") }
        #expect(errors.count == requests.count, "\(capture.messages)")
        #expect(errors.contains { $0.contains("no database connection came free within 2.0 seconds: all 1 are busy") }, "\(errors)")

        // Again, as DreamClass's retries come: each until it is stored (a busy machine may take
        // more than 2 s for one), at most five times.
        var unlocked: [String] = []
        for request in requests {
            var answer = ""
            for _ in 0..<5 where answer != "200" { answer = await deliver(request) }
            unlocked.append(answer)
        }
        await receiver.stop()
        #expect(unlocked == Array(repeating: "200", count: requests.count))
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'webhook'").first?.decode(Int.self, at: 0) == requests.count)
    }
}
