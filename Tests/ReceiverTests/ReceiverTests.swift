import AsyncHTTPClient
import Backfill
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import NIOCore
import Postgres
import Receiver
import ReconcileJob
import Signing
import TestSupport
import Testing

@Suite struct ReceiverTests {
    static let secret = Data("receiver secret".utf8).base64EncodedString()
    static let signature = try! WebhookSignature(secret: secret, encoding: .base64)
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("serve")
    }

    func receiver(database: TestDatabase? = nil, maxBody: Int = 1 << 20, window: Duration? = nil) -> WebhookReceiver {
        var options = WebhookReceiver.Options(schema: "dreamclass")
        // The scenarios' events are days old; the window has a test of its own.
        options.timestampWindow = window
        options.basicAuth = ("dreamclass", "hook-pass")
        options.signature = Self.signature
        options.maxBodyBytes = maxBody
        let target = database ?? self.database
        return WebhookReceiver(options: options) { try target.connect() }
    }

    static func body(id: UUID = UUID(), row: Enrollment = Enrollment(id: 74, studentId: 76, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"),
                     type: String = "STUDENT_PERIOD_CREATED", signed: Bool = true, millis: Int64 = 1_727_862_002_901) -> String {
        WebhookEnvelope.body(id: id, type: type, tenant: "serve-school", timestampMillis: millis,
                             signature: signed ? signature.sign(eventID: id.uuidString.lowercased()) : "AAAA", data: row)
    }

    static func post(_ url: String, _ body: String, auth: String? = "dreamclass:hook-pass") async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let auth { request.headers.add(name: "Authorization", value: "Basic " + Data(auth.utf8).base64EncodedString()) }
        request.body = .bytes(ByteBuffer(string: body))
        // Generous: the tests assert what the receiver answers, never how fast, and a busy machine
        // (the whole suite on two cores) must not turn a slow answer into a failure.
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 16)))
    }

    func count(_ sql: String) throws -> Int { try connection.query(sql).first!.decode(Int.self, at: 0) }

    /// A signed body whose field is too long for the store is refused 400 and kept as rejected:
    /// DreamClass does not retry a 400, as it would a 503, for ever.
    @Test func anOversizedFieldIs400AndKeptNever503() async throws {
        let receiver = receiver()
        let url = try await receiver.start()
        let id = UUID()
        let long = String(repeating: "t", count: 20_000)
        let body = WebhookEnvelope.body(id: id, type: "STUDENT_PERIOD_CREATED", tenant: long, timestampMillis: 1_727_862_002_901,
                                        signature: Self.signature.sign(eventID: id.uuidString.lowercased()),
                                        data: Enrollment(id: 74, studentId: 76, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
        let (status, text) = try await Self.post(url, body)
        await receiver.stop()
        #expect(status == 400, "\(text)")
        #expect(text.contains("tenant"))
        #expect(try count("SELECT count(*) FROM dreamclass.rejected_events") == 1)
        #expect(try count("SELECT count(*) FROM dreamclass.webhook_events") == 0)
    }

    @Test func acceptedDuplicateAndRefusedDeliveries() async throws {
        let receiver = receiver(maxBody: 4096)
        let url = try await receiver.start()
        let body = Self.body()
        let accepted = try await Self.post(url, body)
        let duplicate = try await Self.post(url, body)
        let badSignature = try await Self.post(url, Self.body(signed: false))
        let badAuth = try await Self.post(url, Self.body(), auth: "dreamclass:wrong")
        let noAuth = try await Self.post(url, Self.body(), auth: nil)
        let unsignedMalformed = try await Self.post(url, #"{"id":"not-a-uuid","type":"X"}"#)
        let id = UUID().uuidString.lowercased()
        let malformed = try await Self.post(url, #"{"id":"\#(id)","signature":"\#(Self.signature.sign(eventID: id))","type":"X"}"#)
        let oversized = try await Self.post(url, Self.body().replacingOccurrences(of: "\"data\":{", with: "\"pad\":\"\(String(repeating: "x", count: 5000))\",\"data\":{"))
        let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: url.replacingOccurrences(of: "/webhooks/dreamclass", with: "/health")), timeout: .seconds(60))
        await receiver.stop()

        #expect(accepted.0 == 200 && accepted.1.contains("stored"))
        #expect(duplicate.0 == 200 && duplicate.1.contains("duplicate"))
        #expect(badSignature.0 == 401)
        #expect(badAuth.0 == 401)
        #expect(noAuth.0 == 401)
        #expect(unsignedMalformed.0 == 401)
        #expect(malformed.0 == 400)
        #expect(oversized.0 == 413)
        #expect(health.status.code == 200)
        #expect(try count("SELECT count(*) FROM dreamclass.webhook_events") == 1)
        #expect(try count("SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'webhook' AND signature_valid AND body IS NOT NULL") == 1)
        // Only the signed malformed body is kept; a forged or unsigned one is kept nowhere.
        #expect(try count("SELECT count(*) FROM dreamclass.rejected_events WHERE source_name = 'serve'") == 1)
    }

    /// PostgreSQL ends every connection of the receiver (a restart, a failover, an administrator)
    /// after its insert was prepared on them: the next delivery finds its idle connection broken
    /// and is stored on a new one, which prepares the insert again; no delivery is refused, none
    /// lost, none stored twice.
    @Test func deliveriesAreStoredAfterTheDatabaseEndsEveryConnection() async throws {
        let receiver = receiver()
        let url = try await receiver.start()
        // Deliveries at once, so that the pool has several connections open and idle.
        let first = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await Self.post(url, Self.body()).0 } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(first == Array(repeating: 200, count: 8))
        let ended = try count("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            """)
        #expect(ended >= 1)
        var answers: [Int] = []
        for _ in 0..<10 { answers.append(try await Self.post(url, Self.body()).0) }
        await receiver.stop()
        #expect(answers == Array(repeating: 200, count: 10))
        #expect(try count("SELECT count(*) FROM dreamclass.webhook_events") == 18)
    }

    /// `ingest` loads a file of events while DreamClass re-delivers some of them to the receiver,
    /// at the same moment: each event is stored once, and what one stored first the other counts
    /// as a duplicate (both write in event-id order, so neither deadlocks the other).
    @Test func ingestAndTheReceiverMeetingTheSameIDsStoreEachOnce() async throws {
        let receiver = receiver()
        let url = try await receiver.start()
        let bodies = (0..<2_000).map { _ in Self.body() }
        let file = FileManager.default.temporaryDirectory.appending(path: "overlap-\(UUID().uuidString).jsonl")
        try Data((bodies.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let writers = try (0..<2).map { _ in try database.connect() }
        async let ingested = {
            var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
            return try await Ingester(schema: "dreamclass", batchSize: 25).ingest(&reader, sourceName: "overlap.jsonl", into: writers)
        }()
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, body) in bodies.enumerated() where index % 4 == 0 {
                group.addTask { try await Self.post(url, body) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let summary = try await ingested
        await receiver.stop()
        #expect(answers.allSatisfy { $0.0 == 200 })
        let byReceiver = try count("SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'webhook'")
        #expect(answers.filter { $0.1.contains("stored") }.count == byReceiver)
        #expect(summary == .init(read: bodies.count, stored: bodies.count - byReceiver, duplicates: byReceiver, rejected: 0))
        #expect(try count("SELECT count(*) FROM dreamclass.webhook_events") == bodies.count)
    }

    @Test func theDatabaseDownIs503() async throws {
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.signature = Self.signature
        options.timestampWindow = nil
        let server = try TestPostgres.shared()
        let down = WebhookReceiver(options: options) { try Connection(conninfo: server.conninfo(database: "no_such_database")) }
        let url = try await down.start()
        let answer = try await Self.post(url, Self.body(), auth: nil)
        let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: url.replacingOccurrences(of: "/webhooks/dreamclass", with: "/health")), timeout: .seconds(60))
        await down.stop()
        #expect(answer.0 == 503)
        #expect(health.status.code == 503)
    }

    @Test func receiveReconcileBackfillDeliverThenClean() async throws {
        // DreamClass's school, and the webhooks that reached the receiver: all but the outage's.
        let now = Date()
        let school = School.generate(periods: 2, studentsPerPeriod: 15, seed: 4, today: now)
        let scenario = OutageScenario.make(school: school, tenant: "serve-school", outageChanges: 2, seed: 3, now: now)
        let receiver = receiver()
        let url = try await receiver.start()
        for body in scenario.storedWebhooks {
            // Sign as DreamClass does: the receiver checks every signature.
            var envelope = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
            envelope["signature"] = Self.signature.sign(eventID: envelope["id"] as! String)
            let signed = String(decoding: try JSONSerialization.data(withJSONObject: envelope), as: UTF8.self)
            #expect(try await Self.post(url, signed).0 == 200)
        }

        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: "serve-school"))
        let api = try await simulator.start()
        func reconcile(at time: Date, settle: Duration) async throws -> ReconcileJob.Outcome {
            try await DreamClassClient.withClient(configuration: DreamClassConfiguration(baseURL: api, apiKey: "k", schoolCode: "S", tenant: "serve-school")) { client in
                try await ReconcileJob(options: .init(schema: "dreamclass", tenant: "serve-school", settle: settle))
                    .run(connection: connection, lockConnection: try database.connect(), client: client, now: time)
            }
        }
        let drift = try await reconcile(at: now, settle: .seconds(900))
        #expect(drift.items.count == 7)

        // Backfill, delivering to the school's downstream receiver, which keeps its own store.
        let downstream = try TestPostgres.makeDatabase("downstream")
        try Migrator(schema: "dreamclass").migrate(try downstream.connect())
        let school2 = self.receiver(database: downstream)
        let downstreamURL = try await school2.start()
        var options = BackfillJob.Options(schema: "dreamclass", runID: drift.run.runID)
        options.signature = Self.signature
        var config = WebhookSender.Configuration(url: downstreamURL, basicAuth: ("dreamclass", "hook-pass"))
        config.backoffBase = .milliseconds(5)
        let sender = WebhookSender(configuration: config)
        let filled = try await BackfillJob(options: options).run(connection: connection, sender: sender)
        try await sender.shutdown()
        #expect(filled.delivered == 7)
        let landed = try downstream.connect().query("SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'webhook' AND signature_valid")
        #expect(try landed.first?.decode(Int.self, at: 0) == 7)

        let clean = try await reconcile(at: Date().addingTimeInterval(1), settle: .zero)
        #expect(clean.items.isEmpty)
        #expect(clean.run.status == .ok)
        await school2.stop()
        await receiver.stop()
        await simulator.stop()
    }

    @Test func aCleanShutdownLogsNothingAboveInfo() async throws {
        let capture = LogCapture()
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.connections = 1
        let receiver = WebhookReceiver(options: options, logger: capture.logger(label: "serve")) { try database.connect() }
        let url = try await receiver.start()
        let simulator = DreamClassSimulator(
            school: .generate(periods: 1, studentsPerPeriod: 2, seed: 1), settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: "t"),
            logger: capture.logger(label: "sim")
        )
        let simulatorURL = try await simulator.start()
        let (status, _) = try await Self.post(url, Self.body(signed: false, millis: Int64(Date().timeIntervalSince1970 * 1000)), auth: nil)
        #expect(status == 200)
        let periods = try await DreamClassClient.withClient(configuration: DreamClassConfiguration(baseURL: simulatorURL, apiKey: "k", schoolCode: "S", tenant: "t")) {
            try await $0.periods()
        }
        #expect(periods.count == 1)
        await receiver.stop()
        await simulator.stop()
        let loud = capture.messages.filter { ["warning", "error", "critical"].contains($0.split(separator: " ").first ?? "") }
        #expect(loud.isEmpty, "\(loud)")
    }
}
