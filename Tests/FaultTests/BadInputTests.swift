@testable import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import TestSupport
import Testing

/// Damaged input: ingest never crashes, keeps every line (stored or rejected with a reason), and
/// its counts add up; damaged API bodies are errors, never crashes or half-read rosters.
@Suite struct BadInputTests {
    static func valid(_ random: inout SeededRandom) -> String {
        WebhookEnvelope.body(id: UUID(random: &random), type: "STUDENT_PERIOD_CREATED", tenant: "fuzz",
                             timestampMillis: 1_727_862_002_901, signature: nil,
                             data: Enrollment(id: Int.random(in: 1...1000, using: &random), studentId: 5, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
    }

    /// One damaged line: the kinds of damage real streams and attackers produce.
    static func mutate(_ line: String, _ random: inout SeededRandom) -> [UInt8] {
        var bytes = Array(line.utf8)
        switch Int.random(in: 0..<12, using: &random) {
        case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))                 // cut short
        case 1: bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) // a flipped byte
        case 2: bytes.insert(0, at: Int.random(in: 0..<bytes.count, using: &random))                           // a NUL byte
        case 3: bytes += [0xC3, 0x28]                                                                           // invalid UTF-8
        case 4: bytes = Array(line.replacingOccurrences(of: "1727862002901", with: "1e400").utf8)               // a huge number
        case 5: bytes = Array(line.replacingOccurrences(of: "\"tenant\":\"fuzz\"", with: "\"tenant\":7").utf8) // a wrong type
        case 6: bytes = Array(("{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}").utf8) // deep nesting
        case 7: bytes = Array(line.replacingOccurrences(of: "\"data\":{", with: "\"data\":{\"deep\":" + String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000) + ",").utf8)
        case 8: bytes = Array(line.replacingOccurrences(of: "\"active\":true", with: "\"active\":\"\\u0000\"").utf8)
        case 9: bytes = Array(line.replacingOccurrences(of: "\"id\":", with: "\"id\":99999999999999999999999999,\"x\":").utf8)
        case 10: bytes = Array("[]".utf8)
        default: break                                                                                         // left valid
        }
        // A line ends at a newline: damage that adds one would make two lines.
        return bytes.map { $0 == 0x0A ? 0x20 : $0 }
    }

    @Test func mutatedLinesAreStoredOrRejectedAndTheCountsAddUp() throws {
        let connection = try TestPostgres.makeDatabase("fuzz").connect()
        try Migrator(schema: "dreamclass").migrate(connection)
        var random = SeededRandom(seed: 2026)
        var data = Data()
        var lines = 0
        for _ in 0..<1_500 {
            let line = Self.mutate(Self.valid(&random), &random)
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else { continue }
            data.append(contentsOf: line)
            data.append(0x0A)
            lines += 1
        }
        // One line of 10 MB.
        data.append(contentsOf: Array(#"{"id":"x","data":""#.utf8) + [UInt8](repeating: 0x61, count: 10 << 20) + Array(#""}"#.utf8) + [0x0A])
        lines += 1
        let url = FileManager.default.temporaryDirectory.appending(path: "fuzz-\(UUID().uuidString).jsonl")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let summary = try Ingester(schema: "dreamclass", batchSize: 200).ingest(&reader, sourceName: "fuzz", into: connection)
        #expect(summary.read == lines)
        #expect(summary.stored + summary.duplicates + summary.rejected == summary.read)
        #expect(summary.rejected > 100)
        #expect(summary.stored > 100)
        let kept = try connection.query("SELECT count(*), count(*) FILTER (WHERE reason <> '' AND line_number > 0) FROM dreamclass.rejected_events").first!
        #expect(try kept.decode(Int.self, at: 0) == summary.rejected)
        #expect(try kept.decode(Int.self, at: 1) == summary.rejected)
        let big = try connection.query("SELECT length(raw) FROM dreamclass.rejected_events ORDER BY length(raw) DESC LIMIT 1").first!
        #expect(try big.decode(Int.self, at: 0) > 10 << 20)
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func damagedRosterBodiesAreErrorsNotHalfRosters(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let rows = (1...20).map { Enrollment(id: $0, studentId: $0 + 100, active: $0 % 3 != 0, addedAt: "2024-10-02T09:40:02.179+00:00") }
        let body = Array(try JSONEncoder().encode(rows))
        var damaged = Self.mutate(String(decoding: body, as: UTF8.self), &random)
        if damaged == body { damaged = Array(damaged.prefix(damaged.count - 1)) }
        do {
            let decoded = try DreamClassClient.decode(ListPage<Enrollment>.self, from: damaged, url: "http://x/list")
            // Damage that leaves valid JSON must still give whole, valid rows.
            if case .array(let got) = decoded { #expect(got.allSatisfy { $0.addedAtInstant != nil }) }
        } catch let error as DreamClassError {
            #expect(error.description.contains("http://x/list"))
        }
    }
}
