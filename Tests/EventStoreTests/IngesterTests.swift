import EventStore
import Foundation
import Models
import Postgres
import Signing
import TestSupport
import Testing

@Suite struct IngesterTests {
    let connection: Connection
    let schema = "dreamclass"

    init() throws {
        connection = try TestPostgres.makeDatabase("ingest").connect()
        try Migrator(schema: schema).migrate(connection)
    }

    static func envelope(
        id: String = UUID().uuidString.lowercased(), type: String = "STUDENT_PERIOD_CREATED", tenant: String = "my-school",
        timestamp: String = "1727862002901", signature: String? = nil, data: String = #"{"id":74,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}"#
    ) -> String {
        var fields = [#""id":"\#(id)""#, #""type":"\#(type)""#, #""tenant":"\#(tenant)""#, #""timestamp":\#(timestamp)"#]
        if let signature { fields.append(#""signature":"\#(signature)""#) }
        fields.append(#""data":\#(data)"#)
        return "{" + fields.joined(separator: ",") + "}"
    }

    func ingest(_ text: String, ingester: Ingester? = nil, chunkSize: Int = 1 << 20) throws -> Ingester.Summary {
        let url = FileManager.default.temporaryDirectory.appending(path: "ingest-\(UUID().uuidString).jsonl")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url), chunkSize: chunkSize)
        return try (ingester ?? Ingester(schema: schema)).ingest(&reader, sourceName: "events.jsonl", into: connection)
    }

    func rejected() throws -> [(line: Int, reason: String, raw: String)] {
        try connection.query("SELECT line_number, reason, raw, source_name FROM dreamclass.rejected_events ORDER BY line_number").rows.map {
            #expect(try $0.decode(String.self, at: 3) == "events.jsonl")
            return (try $0.decode(Int.self, at: 0), try $0.decode(String.self, at: 1), String(decoding: try $0.decode(Data.self, at: 2), as: UTF8.self))
        }
    }

    @Test func aMixedFileGivesExactCountsAndKeepsEveryRejectedLine() throws {
        let duplicateID = UUID().uuidString.lowercased()
        let lines = [
            Self.envelope(id: duplicateID),                                         // 1 stored
            Self.envelope(type: "STUDENT_PERIOD_UPDATED"),                          // 2 stored
            Self.envelope(id: duplicateID),                                         // 3 duplicate
            #"{"id": "broken JSON"#,                                                // 4 rejected
            #"{"id":"\#(UUID().uuidString)","type":"STUDENT_PERIOD_CREATED","timestamp":1,"data":{}}"#, // 5 no tenant
            Self.envelope(timestamp: #""1727862002901""#),                          // 6 timestamp is a string
            Self.envelope(type: "PAYMENT_CREATED", data: #"{"id":9,"amount":12.5}"#), // 7 other family: stored
            "",                                                                     // 8 blank: skipped
            Self.envelope(id: "not-a-uuid"),                                        // 9 rejected
            Self.envelope(data: "[1,2]"),                                           // 10 data not an object
        ]
        let summary = try ingest(lines.joined(separator: "\n") + "\n")
        #expect(summary == Ingester.Summary(read: 9, stored: 3, duplicates: 1, rejected: 5))
        #expect(summary.description == "read 9, stored 3, duplicates 1, rejected 5")

        let rejected = try rejected()
        #expect(rejected.map(\.line) == [4, 5, 6, 9, 10])
        #expect(rejected.map(\.raw) == [lines[3], lines[4], lines[5], lines[8], lines[9]])
        #expect(rejected[0].reason.contains("JSON"))
        #expect(rejected[1].reason == #"missing field "tenant""#)
        #expect(rejected[2].reason.hasPrefix(#"field "timestamp" is not an integer"#))
        #expect(rejected[3].reason == #"field "id" is not a UUID"#)
        #expect(rejected[4].reason.contains("data"))

        let stored = try connection.query("""
            SELECT event_type, body, (body::jsonb)->'data'->>'id', source, signature_valid IS NULL, event_time = to_timestamp(1727862002.901)
            FROM dreamclass.webhook_events ORDER BY seq
            """).rows
        // One batch: its rows went in in event-id order.
        #expect(try stored.map { try $0.decode(String.self, at: 0) }.sorted() == ["PAYMENT_CREATED", "STUDENT_PERIOD_CREATED", "STUDENT_PERIOD_UPDATED"])
        #expect(try stored.map { try $0.decode(String.self, at: 1) }.sorted() == [lines[0], lines[1], lines[6]].sorted())
        #expect(try stored.map { try $0.decode(String.self, at: 2) }.sorted() == ["74", "74", "9"])
        #expect(try stored.allSatisfy { try $0.decode(String.self, at: 3) == "ingest" && $0.decode(Bool.self, at: 4) && $0.decode(Bool.self, at: 5) })
    }

    @Test func ingestingTheSameFileAgainStoresNothingNew() throws {
        let lines = (0..<50).map { _ in Self.envelope() }
        let ingester = Ingester(schema: schema, batchSize: 7)
        // A part first: the batches of the whole that meet a stored id store their new ones.
        #expect(try ingest(lines[10..<30].joined(separator: "\n"), ingester: ingester) == .init(read: 20, stored: 20, duplicates: 0, rejected: 0))
        let text = lines.joined(separator: "\n")
        #expect(try ingest(text, ingester: ingester) == .init(read: 50, stored: 30, duplicates: 20, rejected: 0))
        #expect(try ingest(text, ingester: ingester) == .init(read: 50, stored: 0, duplicates: 50, rejected: 0))
        let bodies = try connection.query("SELECT body FROM dreamclass.webhook_events").rows.map { try $0.decode(String.self, at: 0) }
        #expect(bodies.sorted() == lines.sorted())
    }

    @Test func severalWritersStoreEachEventOnceAndCountEveryLine() async throws {
        let database = try TestPostgres.makeDatabase("writers")
        let connections = try (0..<3).map { _ in try database.connect() }
        try Migrator(schema: schema).migrate(connections[0])
        var lines = (0..<500).map { _ in Self.envelope() }
        lines += lines.prefix(40)                      // re-deliveries, landing in other batches
        lines.insert("{not json", at: 123)
        let url = FileManager.default.temporaryDirectory.appending(path: "writers-\(UUID().uuidString).jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let summary = try await Ingester(schema: schema, batchSize: 37).ingest(&reader, sourceName: "events.jsonl", into: connections)
        #expect(summary == .init(read: 541, stored: 500, duplicates: 40, rejected: 1))
        let counts = try connections[0].query(
            "SELECT (SELECT count(DISTINCT event_id) FROM dreamclass.webhook_events), (SELECT count(*) FROM dreamclass.rejected_events WHERE line_number = 124)"
        ).first
        #expect(try counts?.decode(Int.self, at: 0) == 500)
        #expect(try counts?.decode(Int.self, at: 1) == 1)
    }

    @Test func linesSplitAcrossReadChunksAndCRLFEndingsAreReadWhole() throws {
        let lines = (0..<20).map { _ in Self.envelope() }
        let summary = try ingest(lines.joined(separator: "\r\n"), chunkSize: 17)
        #expect(summary == .init(read: 20, stored: 20, duplicates: 0, rejected: 0))
        // Within a batch, rows go in in event-id order (the writers' shared lock order).
        let bodies = try connection.query("SELECT body FROM dreamclass.webhook_events ORDER BY seq").rows.map { try $0.decode(String.self, at: 0) }
        #expect(bodies == lines.sorted())
    }

    /// `ingest` sends its rows in COPY's binary format, the receiver as a prepared statement's
    /// text: the same body must give the same row either way, to the microsecond and the byte.
    @Test func ingestAndTheReceiverStoreTheSameRowForTheSameBody() throws {
        let lines = [
            Self.envelope(signature: "c2lnbmF0dXJl"),
            Self.envelope(type: "STUDENT_PERIOD_DELETED", data: #"{"id":75}"#),
            Self.envelope(type: "STUDENT_UPDATED", data: #"{"id":3,"name":"Zoë \"Z\" O'Neil \\ \t 🎒"}"#),
            Self.envelope(timestamp: "-62135596800000", data: #"{"id":76,"active":false,"addedAt":"0001-01-01T00:00:00.000001Z","studentId":1}"#),
            Self.envelope(timestamp: "253402300799999", data: #"{"id":77,"active":true,"addedAt":"9999-12-31T23:59:59.999999+05:30","studentId":2}"#),
            Self.envelope(timestamp: "1733373600123", data: #"{"id":78,"active":true,"addedAt":"2106-02-07T06:36:01.733887Z","studentId":-9}"#),
            Self.envelope(data: #"{"id":79,"active":"yes","addedAt":"not a date","studentId":"7"}"#),
        ]
        #expect(try ingest(lines.joined(separator: "\n")).stored == lines.count)
        let (_, received) = try TestPostgres.makeStore("ingest-or-receiver", quiet: true)
        for line in lines {
            let envelope = try WebhookEnvelope.validate(Array(line.utf8))
            #expect(try ReceiverInbox(schema: schema).store(envelope, body: line, signatureValid: nil, on: received) == .stored)
        }
        func rows(_ connection: Connection) throws -> [[String?]] {
            try connection.query("""
                SELECT event_id::text, tenant, event_type, event_time::text, signature, signature_valid::text, body,
                    student_period_id::text, student_id::text, active::text, added_at::text
                FROM dreamclass.webhook_events ORDER BY event_id
                """).rows.map { row in try (0..<11).map { try row.decodeIfPresent(String.self, at: $0) } }
        }
        let ingested = try rows(connection)
        #expect(ingested.count == lines.count)
        #expect(ingested == (try rows(received)))
    }

    /// One oversized field is that line's problem: rejected at validation (a limit per field) or,
    /// for what only the server refuses (a 20 KB number it cannot index), by halving the batch
    /// until the line stands alone. The good lines around it are stored, on every rerun too.
    @Test func anOversizedFieldRejectsItsLineAndStoresTheRest() throws {
        let long = String(repeating: "x", count: 20_000)
        // Digits that do not compress: the server cannot fit them in an index entry.
        var random = SeededRandom(seed: 7)
        let digits = "1" + String((0..<20_000).map { _ in Character(String(random.next() % 10)) })
        let bad = [
            Self.envelope(tenant: long),
            Self.envelope(type: long),
            Self.envelope(signature: long),
            Self.envelope(data: #"{"id":"\#(long)","studentId":1,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00"}"#),
            Self.envelope(data: #"{"id":\#(digits),"studentId":1,"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00"}"#),
        ]
        var lines: [String] = []
        for line in bad { lines += [Self.envelope(), line] }
        lines.append(Self.envelope())
        let summary = try ingest(lines.joined(separator: "\n"))
        // The 20,000-digit id is kept: the body is text, and its id no integer the fold can use.
        #expect(summary == .init(read: 11, stored: 7, duplicates: 0, rejected: 4))
        let reasons = try rejected().map(\.reason)
        for field in ["tenant", "type", "signature", "data.id"] {
            #expect(reasons.contains { $0.contains("field \"\(field)\" is 20") && $0.contains("more than") }, "\(field): \(reasons)")
        }
        #expect(try rejected().map(\.line) == [2, 4, 6, 8])
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events WHERE event_type LIKE 'STUDENT%' AND student_period_id IS NULL")
            .first?.decode(Int.self, at: 0) == 1)
        let again = try ingest(lines.joined(separator: "\n"))
        #expect(again == .init(read: 11, stored: 0, duplicates: 7, rejected: 4))
    }

    @Test func bytesPostgreSQLCannotHoldAreRejectedNotLost() throws {
        let invalidUTF8 = Data([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])
        let nulEscape = Self.envelope(data: #"{"id":1,"note":"a\u0000b"}"#)
        let surrogate = Self.envelope(data: #"{"id":1,"note":"\ud800"}"#)
        let good = Self.envelope()
        var text = Data((nulEscape + "\n" + surrogate + "\n" + good + "\n").utf8)
        text.append(invalidUTF8)
        let url = FileManager.default.temporaryDirectory.appending(path: "bytes-\(UUID().uuidString).jsonl")
        try text.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let result = try Ingester(schema: schema).ingest(&reader, sourceName: "events.jsonl", into: connection)
        // A lone surrogate escape is text like any other now that the body is kept as text.
        #expect(result == .init(read: 4, stored: 2, duplicates: 0, rejected: 2))
        let raws = try connection.query("SELECT raw FROM dreamclass.rejected_events ORDER BY line_number").rows.map { try $0.decode(Data.self, at: 0) }
        #expect(raws == [Data(nulEscape.utf8), invalidUTF8])
    }

    @Test func invalidUTF8InsideAStringIsRejectedWithItsBytesNotReplaced() throws {
        var line = Data(Self.envelope(data: #"{"id":1,"note":"caf"#).utf8)
        line.append(contentsOf: [0xE9, 0x22, 0x7D, 0x7D])   // "café" in Latin-1, then "}}
        let url = FileManager.default.temporaryDirectory.appending(path: "latin1-\(UUID().uuidString).jsonl")
        try line.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let result = try Ingester(schema: schema).ingest(&reader, sourceName: "events.jsonl", into: connection)
        #expect(result == .init(read: 1, stored: 0, duplicates: 0, rejected: 1))
        let rejected = try connection.query("SELECT reason, raw FROM dreamclass.rejected_events").rows
        #expect(try rejected.map { try $0.decode(String.self, at: 0) } == ["is not valid UTF-8"])
        #expect(try rejected.map { try $0.decode(Data.self, at: 1) } == [line])
    }

    @Test func aByteOrderMarkAtTheStartIsSkippedAndSaid() throws {
        let summary = try ingest("\u{FEFF}" + Self.envelope() + "\n" + Self.envelope())
        #expect(summary == .init(read: 2, stored: 2, duplicates: 0, rejected: 0, skippedByteOrderMark: true))
        #expect(summary.description == "read 2, stored 2, duplicates 0, rejected 0 (a byte-order mark at the start was skipped)")
        // Only at the start: one inside a file is part of its line, kept with it.
        let insideLine = "\u{FEFF}" + Self.envelope()
        let inside = try ingest(Self.envelope() + "\n" + insideLine)
        #expect(inside == .init(read: 2, stored: 2, duplicates: 0, rejected: 0))
        #expect(try connection.query("SELECT count(*) FROM dreamclass.webhook_events WHERE body = $1", [insideLine]).first?.decode(Int.self, at: 0) == 1)
    }

    @Test func anIngestWithRejectedLinesExits65AndOneWithoutExits0() async throws {
        let database = try TestPostgres.makeDatabase("ingest-codes")
        let file = NSTemporaryDirectory() + "codes-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try [Self.envelope(), "{not json"].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        let rejected = await Command.run("dreamclass-reconcile", ["ingest", file, "--database", database.conninfo])
        #expect(rejected.status == 65, "\(rejected.stderr)")
        #expect(rejected.stdout == "read 2, stored 1, duplicates 0, rejected 1\n")
        try Self.envelope().write(toFile: file, atomically: true, encoding: .utf8)
        let clean = await Command.run("dreamclass-reconcile", ["ingest", file, "--database", database.conninfo])
        #expect(clean.status == 0, "\(clean.stderr)")
    }

    @Test(arguments: [WebhookSignature.KeyEncoding.base64, .raw])
    func signaturesAreCheckedWithTheConfiguredKeyEncoding(_ encoding: WebhookSignature.KeyEncoding) throws {
        // Valid Base64, so the two encodings give two different keys from the same text.
        let secret = Data("test secret bytes \u{1}".utf8).base64EncodedString()
        let signer = try WebhookSignature(secret: secret, encoding: encoding)
        let good = UUID().uuidString.lowercased()
        let tampered = UUID().uuidString.lowercased()
        let unsigned = UUID().uuidString.lowercased()
        let other = try WebhookSignature(secret: secret, encoding: encoding == .base64 ? .raw : .base64)
        let lines = [
            Self.envelope(id: good, signature: signer.sign(eventID: good)),
            Self.envelope(id: tampered, signature: signer.sign(eventID: good)),
            Self.envelope(id: unsigned),
        ]
        #expect(signer.sign(eventID: good).count == 44)
        #expect(other.sign(eventID: good) != signer.sign(eventID: good))
        let summary = try ingest(lines.joined(separator: "\n"), ingester: Ingester(schema: schema, signature: signer))
        #expect((summary.signaturesChecked, summary.signaturesFailed) == (3, 2))
        let valid = try connection.query("SELECT event_id, signature_valid FROM dreamclass.webhook_events").rows
            .reduce(into: [String: Bool]()) { $0[try $1.decode(String.self, at: 0)] = try $1.decode(Bool.self, at: 1) }
        #expect(valid == [good: true, tampered: false, unsigned: false])
    }

    @Test func aSecretThatIsNotBase64IsRefusedWithoutShowingIt() throws {
        let error = #expect(throws: WebhookSignatureError.self) {
            try WebhookSignature(secret: "not base64 at all!", encoding: .base64)
        }
        #expect(error.map { !"\($0)".contains("not base64 at all!") } == true)
    }

    /// A re-delivery-heavy export: every event once, a share of them again at a random later
    /// place, so copies of one id land in different batches written by different connections.
    static func redeliveryFile(events: Int, share: Double, seed: UInt64, ids: [String]? = nil) throws -> (URL, distinct: Int, lines: Int) {
        var random = SeededRandom(seed: seed)
        let ids = ids ?? (0..<events).map { _ in UUID(random: &random).uuidString.lowercased() }
        var lines = ids.map { envelope(id: $0) }
        for id in ids where Double.random(in: 0..<1, using: &random) < share {
            lines.insert(envelope(id: id), at: Int.random(in: 0...lines.count, using: &random))
        }
        let url = FileManager.default.temporaryDirectory.appending(path: "redeliveries-\(UUID().uuidString).jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        return (url, Set(ids).count, lines.count)
    }

    @Test func reDeliveriesAcrossBatchesNeverDeadlockAndEveryLineIsCounted() async throws {
        let database = try TestPostgres.makeDatabase("redeliveries")
        let connections = try (0..<2).map { _ in try database.connect() }
        try Migrator(schema: schema).migrate(connections[0])
        var storedTotal = 0
        for seed in 1...12 as ClosedRange<UInt64> {
            let (url, distinct, lines) = try Self.redeliveryFile(events: 3_000, share: seed.isMultiple(of: 2) ? 1 : 0.3, seed: seed)
            defer { try? FileManager.default.removeItem(at: url) }
            var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
            let summary = try await Ingester(schema: schema, batchSize: 97).ingest(&reader, sourceName: "redeliveries.jsonl", into: connections)
            #expect(summary == .init(read: lines, stored: distinct, duplicates: lines - distinct, rejected: 0), "seed \(seed)")
            storedTotal += distinct
        }
        #expect(try connections[0].query("SELECT count(*) FROM dreamclass.webhook_events").first?.decode(Int.self, at: 0) == storedTotal)
    }

    @Test func twoIngestProcessesOnOverlappingFilesAtOnceStoreEachEventOnce() async throws {
        let database = try TestPostgres.makeDatabase("two-ingests")
        try Migrator(schema: schema).migrate(try database.connect())
        var random = SeededRandom(seed: 77)
        let ids = (0..<8_000).map { _ in UUID(random: &random).uuidString.lowercased() }
        // Half the ids in both files, in other orders, each file with its own re-deliveries.
        let (first, _, firstLines) = try Self.redeliveryFile(events: 0, share: 0.2, seed: 1, ids: Array(ids[0..<6_000]).shuffled(using: &random))
        let (second, _, secondLines) = try Self.redeliveryFile(events: 0, share: 0.2, seed: 2, ids: Array(ids[2_000...]).shuffled(using: &random))
        defer { for url in [first, second] { try? FileManager.default.removeItem(at: url) } }
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let environment = ["DATABASE_URL": database.conninfo, "LOG_LEVEL": "error"]
        async let a = Command.run(binary, ["ingest", "--batch-size", "250", first.path], environment: environment)
        async let b = Command.run(binary, ["ingest", "--batch-size", "250", second.path], environment: environment)
        let results = await [a, b]
        var stored = 0
        for (result, lines) in zip(results, [firstLines, secondLines]) {
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            let counts = result.stdout.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            #expect(counts.count == 4, "\(result.stdout)")
            guard counts.count == 4 else { continue }
            #expect(counts[0] == lines)
            #expect(counts[0] == counts[1] + counts[2] + counts[3])
            stored += counts[1]
        }
        #expect(stored == ids.count)
        #expect(try database.connect().query("SELECT count(*) FROM dreamclass.webhook_events").first?.decode(Int.self, at: 0) == ids.count)
    }

    /// A row PostgreSQL refuses (here: a character a LATIN1 database cannot hold) fails its
    /// batch; the batch is halved until that line stands alone and is rejected with the server's
    /// reason, the rest stored, and a later copy of the same id still gets in.
    @Test func aRowTheServerRefusesIsRejectedAloneAndALaterCopyOfItsIdIsStored() throws {
        let server = try TestPostgres.shared()
        let name = "latin_\(UUID().uuidString.prefix(8).lowercased())"
        try Connection(conninfo: server.conninfo()).execute(
            "CREATE DATABASE \(quoteIdentifier(name)) ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
        // Every connection speaks UTF-8, whatever the database's encoding: PostgreSQL converts, and
        // refuses what LATIN1 lacks (before, the bytes were stored as if they were LATIN1).
        let latin = try Connection(conninfo: server.conninfo(database: name))
        try Migrator(schema: schema).migrate(latin)
        let id = UUID().uuidString.lowercased()
        let refused = Self.envelope(id: id, tenant: "szkoła")
        let lines = [Self.envelope(), refused, Self.envelope(), Self.envelope(id: id), Self.envelope()]
        let url = FileManager.default.temporaryDirectory.appending(path: "latin-\(UUID().uuidString).jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let summary = try Ingester(schema: schema).ingest(&reader, sourceName: "latin.jsonl", into: latin)
        #expect(summary == .init(read: 5, stored: 4, duplicates: 0, rejected: 1))
        let reasons = try latin.query("SELECT line_number, reason FROM dreamclass.rejected_events").rows
            .map { (try $0.decode(Int.self, at: 0), try $0.decode(String.self, at: 1)) }
        #expect(reasons.map(\.0) == [2])
        #expect(reasons.allSatisfy { $0.1.hasPrefix("refused by PostgreSQL") }, "\(reasons)")
        #expect(try latin.query("SELECT tenant FROM dreamclass.webhook_events WHERE event_id = $1::uuid", [id]).first?.decode(String.self, at: 0) == "my-school")
    }
}
