import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import Receiver
import Synchronization
import TestSupport
import Testing

/// A store from before the typed columns, converted online: the receiver keeps taking deliveries
/// (none refused, none lost), a fold read half-way gives the same states as before, and a refold
/// after gives them byte for byte.
@Suite struct EventConversionTests {
    static let tenant = "converted-school"

    /// The kept states of the tenant after a full refold, as the table holds them.
    static func refoldedStates(_ connection: Connection) throws -> [String] {
        let outcome = try LocalEventReader(schema: "dreamclass").read(tenant: tenant, from: connection, refold: true)
        try connection.transaction { session in
            try FoldStateStore(schema: "dreamclass").save(outcome.update(tenant: tenant), runID: nil, on: session)
        }
        return try connection.query("""
            SELECT student_period_id || ' ' || event_id || ' ' || kind || ' ' || event_millis || ' ' || coalesce(student_id::text, '-')
                || ' ' || coalesce(active::text, '-') || ' ' || coalesce(added_at, '-')
            FROM dreamclass.enrollment_states WHERE tenant = $1 ORDER BY student_period_id
            """, [tenant]).rows.map { try $0.decode(String.self, at: 0) }
    }

    /// A `CREATE INDEX CONCURRENTLY` that did not finish (the process killed, the build failed)
    /// leaves an invalid index behind under the name: the next `migrate` drops it and builds the
    /// index again, both of the conversion's indexes.
    @Test func anIndexLeftInvalidByAnUnfinishedBuildIsBuiltAgainByTheNextMigrate() throws {
        let (_, connection) = try TestPostgres.makeStore("invalid-index", quiet: true)
        let other = { (tenant: String) in
            #"{"id":"\#(UUID().uuidString)","type":"STUDENT_UPDATED","tenant":"\#(tenant)","timestamp":1,"data":{"id":1}}"#
        }
        let enrollment = #"{"id":74,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}"#
        let row = { #"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_UPDATED","tenant":"t","timestamp":1,"data":\#(enrollment)}"# }
        #expect(try connection.ingest([other("t"), other("t"), row(), row()]).stored == 4)
        let names = ["webhook_events_enrollment", "webhook_events_other_families"]
        func state(_ name: String) throws -> (valid: Bool, unique: Bool, definition: String)? {
            try connection.query("""
                SELECT indisvalid, indisunique, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = to_regclass($1)
                """, ["dreamclass.\(name)"]).first.map { (try $0.decode(at: 0), try $0.decode(at: 1), try $0.decode(at: 2)) }
        }
        let built = try names.map { try #require(try state($0)) }
        for name in names {
            try connection.execute("DROP INDEX dreamclass.\(name)")
            // A unique build over rows that repeat fails half-way, as a killed one stops: invalid.
            #expect(throws: PostgresError.self) {
                try connection.execute("CREATE UNIQUE INDEX CONCURRENTLY \(name) ON dreamclass.webhook_events (tenant)")
            }
            #expect(try state(name)?.valid == false)
        }
        try Migrator(schema: "dreamclass").migrate(connection)
        for (index, name) in names.enumerated() {
            let rebuilt = try #require(try state(name))
            #expect(rebuilt.valid && !rebuilt.unique, "\(name)")
            #expect(rebuilt.definition == built[index].definition)
        }
    }

    /// A long conversion says how far it is: after each batch to the terminal's progress line
    /// (rows converted, of about how many), every 50 batches in the log, and once more when done.
    @Test func aConversionReportsItsProgressOnTheTerminalAndInTheLog() throws {
        let database = try TestPostgres.makeDatabase("convert-progress", quiet: true)
        let connection = try database.connect()
        _ = try Migrator(schema: "dreamclass").migrate(connection, conversion: nil)
        let row = { (id: Int) in
            #"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_CREATED","tenant":"\#(Self.tenant)","timestamp":1,"data":{"id":\#(id),"studentId":3,"active":true,"addedAt":"2024-10-02T09:40:02Z"}}"#
        }
        try connection.storeAsBeforeTypedColumns((1...520).map(row))
        try connection.execute("ANALYZE dreamclass.webhook_events")
        let capture = LogCapture()
        final class Shown: Sendable { let lines = Mutex<[String]>([]) }
        let shown = Shown()
        var conversion = EventConversion(schema: "dreamclass", logger: capture.logger())
        conversion.batchSize = 10
        conversion.progress = { converted, estimated in shown.lines.withLock { $0.append("\(converted) of about \(estimated)") } }
        #expect(try conversion.run(connection) == .finished(converted: 520))
        #expect(shown.lines.withLock { $0 } == (1...52).map { "\($0 * 10) of about 520" })
        let logged = capture.messages.filter { $0.contains("convert") }
        #expect(logged.contains { $0.hasPrefix("info converting stored events converted=500 estimated_rows=520 ") }, "\(logged)")
        #expect(logged.contains("info stored events converted to typed columns converted=520"), "\(logged)")
    }

    @Test func aStoreIsConvertedWhileTheReceiverStoresAndTheStatesStayTheSame() async throws {
        let database = try TestPostgres.makeDatabase("convert")
        let connection = try database.connect()
        // The store as the release before left it: migrated, not converted; its events in jsonb.
        _ = try Migrator(schema: "dreamclass").migrate(connection, conversion: nil)
        let school = School.generate(periods: 8, studentsPerPeriod: 150, seed: 12)
        let scenario = OutageScenario.make(school: school, tenant: Self.tenant, outageChanges: 20, seed: 13)
        var old = scenario.storedWebhooks
        // What the fold cannot use stays as it is: a student id that is text, an id with a fraction.
        old.append(#"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_UPDATED","tenant":"\#(Self.tenant)","timestamp":1,"data":{"id":7,"studentId":"3","active":true,"addedAt":"2024-10-02T09:40:02Z"}}"#)
        old.append(#"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_CREATED","tenant":"\#(Self.tenant)","timestamp":1,"data":{"id":8.5,"studentId":3,"active":true,"addedAt":"2024-10-02T09:40:02Z"}}"#)
        try connection.storeAsBeforeTypedColumns(old)
        // The oldest releases kept no body: the conversion takes it from the jsonb.
        try connection.execute("UPDATE dreamclass.webhook_events SET body = NULL WHERE event_id IN (SELECT event_id FROM dreamclass.webhook_events LIMIT 50)")
        let stored = try WebhookEventsTable(schema: "dreamclass").count(on: connection)
        let before = try Self.refoldedStates(connection)
        #expect(before.count > 1_000)

        // The receiver takes deliveries of another school for as long as the conversion runs.
        let receiver = try ReceiverTests().receiver(database: database)
        let url = try await receiver.start()
        final class Flag: Sendable { let up = Mutex(true) }
        let converting = Flag()
        let deliveries = Task {
            var answers: [Int] = []
            var index = 0
            while converting.up.withLock({ $0 }) || index < 50 {
                index += 1
                let row = Enrollment(id: 100_000 + index, studentId: index, active: true, addedAt: "2026-10-02T09:40:02.179+00:00")
                answers.append(try await ReceiverTests.post(url, ReceiverTests.body(row: row)).0)
            }
            return answers
        }

        // A deadline already past converts nothing; a pass of five batches stops half-way; a fold
        // reads the mixed store; the next pass goes on from there to the end.
        var conversion = EventConversion(schema: "dreamclass")
        conversion.batchSize = 200
        let none = try await Blocking.run { [conversion] in try conversion.run(try database.connect(), until: .now) }
        #expect(none == .unfinished(converted: 0))
        var pass = conversion
        pass.maxBatches = 5
        let halfway = try await Blocking.run { [pass] in try pass.run(try database.connect()) }
        #expect(halfway == .unfinished(converted: 1_000))
        #expect(try Self.refoldedStates(connection) == before, "a fold of a store half converted")

        let finished = try await Blocking.run { [conversion] in try conversion.run(try database.connect()) }
        converting.up.withLock { $0 = false }
        let answers = try await deliveries.value
        await receiver.stop()

        guard case .finished(let converted) = finished else { Issue.record("not finished: \(finished)"); return }
        #expect(converted > 0)
        #expect(answers.allSatisfy { $0 == 200 }, "refused during the conversion: \(answers.filter { $0 != 200 })")
        // Nothing lost: every old event and every delivery is there, once.
        #expect(try WebhookEventsTable(schema: "dreamclass").count(on: connection) == stored + answers.count)
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events WHERE body IS NULL").first?.decode(Int.self, at: 0) == 0)
        // The jsonb copy and its index are gone; the typed index is there and valid; the view reads the bodies.
        let columns = try connection.query("""
            SELECT attname FROM pg_attribute WHERE attrelid = 'dreamclass.webhook_events'::regclass AND attnum > 0 AND NOT attisdropped
            """).rows.map { try $0.decode(String.self, at: 0) }
        #expect(!columns.contains("payload"))
        let indexes = try connection.query("""
            SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'dreamclass.webhook_events'::regclass
            """).rows.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Bool.self, at: 1))" }
        #expect(indexes.contains("webhook_events_enrollment true"))
        #expect(indexes.contains("webhook_events_other_families true"))
        #expect(!indexes.contains { $0.hasPrefix("webhook_events_student_period") })
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events_json WHERE document->>'tenant' = $1", [Self.tenant])
            .first?.decode(Int.self, at: 0) == stored)
        // The same states, byte for byte, from the typed columns.
        #expect(try Self.refoldedStates(connection) == before)
        // Run again: nothing to do.
        #expect(try EventConversion(schema: "dreamclass").run(connection) == .typed)
    }
}
