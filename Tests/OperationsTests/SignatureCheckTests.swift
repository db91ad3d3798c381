import DreamClassAPI
import DreamClassSimulator
import Foundation
import Models
import Signing
import TestSupport
import Testing

/// Which key encoding a school's webhook secret needs, found from its stored events.
@Suite struct SignatureCheckTests {
    @Test func theTallyFindsTheEncodingThatVerifies() throws {
        let secret = "00ff10aa"   // valid hex, and valid Base64 text too: three readings, three keys
        let signer = try WebhookSignature(secret: secret, encoding: .hex)
        let events = (0..<5).map { _ in UUID().uuidString.lowercased() }.map { (id: $0, signature: Optional(signer.sign(eventID: $0))) }
        let tally = WebhookSignature.tally(secret: secret, events: events + [(id: "x", signature: nil)])
        #expect(tally == [.hex: 5, .raw: 0, .base64: 0])
        #expect(WebhookSignature.tally(secret: "not hex, not base64!", events: events) == [.raw: 0])
    }

    @Test func configCheckSignaturesNamesTheEncodingAndIngestPointsToIt() async throws {
        let database = try TestPostgres.makeDatabase("signatures")
        _ = await Command.run("dreamclass-reconcile", ["migrate", "--database", database.conninfo])
        // A secret that reads as Base64 too, but DreamClass used its raw bytes.
        let secret = "c2Nob29sIHNlY3JldA=="
        let signer = try WebhookSignature(secret: secret, encoding: .raw)
        let lines = (0..<6).map { index -> String in
            let id = UUID()
            return WebhookEnvelope.body(id: id, type: "STUDENT_PERIOD_CREATED", tenant: "north", timestampMillis: 1_727_862_002_901,
                                        signature: signer.sign(eventID: id.uuidString.lowercased()),
                                        data: Enrollment(id: index, studentId: 1, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
        }
        let folder = try temporaryFolder("signatures").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try lines.joined(separator: "\n").write(toFile: folder + "/events.jsonl", atomically: true, encoding: .utf8)
        try "schools:\n  north:\n    school_code: N\n".write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
        let environment = ["DREAMCLASS_WEBHOOK_SECRET": secret, "DATABASE_URL": database.conninfo, "DREAMCLASS_API_KEY": "k"]

        let ingest = await Command.run("dreamclass-reconcile", ["ingest", folder + "/events.jsonl"], environment: environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stderr.contains("6 of 6 signatures did not verify with --key-encoding base64"))
        #expect(ingest.stderr.contains("config check --signatures"))

        let check = await Command.run("dreamclass-reconcile", ["config", "check", "--signatures", "--config", folder + "/s.yaml"], environment: environment)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout == "school north (tenant north): signatures that verify: base64 0 of 6, raw 6 of 6, hex not readable; use --key-encoding raw\n")
        #expect(!check.stdout.contains(secret) && !check.stderr.contains(secret))
    }

    @Test func configCheckProbesPagingAndSaysWhatToSet() async throws {
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "N", tenant: "north")
        settings.pageSize = 7
        let simulator = DreamClassSimulator(school: .generate(periods: 2, studentsPerPeriod: 12, seed: 2), settings: settings)
        let url = try await simulator.start()
        let folder = try temporaryFolder("probe").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "schools:\n  north:\n    base_url: \(url)\n    school_code: N\n".write(toFile: folder + "/s.yaml", atomically: true, encoding: .utf8)
        let check = await Command.run("dreamclass-reconcile", ["config", "check", "--config", folder + "/s.yaml"], environment: ["DREAMCLASS_API_KEY": "k"])
        await simulator.stop()
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("GetPeriodStudents (period 100, 12 enrollments): page envelopes; page sizes honoured up to 7; configured page_size 500"), "\(check.stdout)")
        #expect(check.stdout.contains("GetStudent: found"))
        #expect(check.stdout.hasSuffix("  to match what the API does, set in schools.north of the file:\n    page_size: 7\n"), "\(check.stdout)")
    }
}
