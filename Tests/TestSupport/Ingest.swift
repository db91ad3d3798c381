import EventStore
import Foundation
import Models
import Postgres

extension Connection {
    /// Stores webhook bodies through `ingest`, as a receiver's file of them would be.
    @discardableResult
    public func ingest(_ lines: [String], schema: String = "dreamclass") throws -> Ingester.Summary {
        let url = FileManager.default.temporaryDirectory.appending(path: "ingest-\(UUID().uuidString).jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        return try Ingester(schema: schema).ingest(&reader, sourceName: "test.jsonl", into: self)
    }
}

extension TestPostgres {
    /// A new database with the event store migrated into schema `dreamclass`, and a connection to it.
    public static func makeStore(_ label: String, quiet: Bool = false) throws -> (TestDatabase, Connection) {
        let database = try makeDatabase(label, quiet: quiet)
        let connection = try database.connect()
        try Migrator(schema: "dreamclass").migrate(connection)
        return (database, connection)
    }
}

extension Connection {
    /// Stores webhook bodies as the releases before the typed columns did (`payload` jsonb and the
    /// body, no typed columns): a store caught before or during its conversion.
    public func storeAsBeforeTypedColumns(_ lines: [String], schema: String = "dreamclass", source: String = "ingest") throws {
        try transaction { session in
            for line in lines {
                let envelope = try WebhookEnvelope.validate(Array(line.utf8))
                try session.execute("""
                    INSERT INTO \(quoteIdentifier(schema)).webhook_events
                        (event_id, tenant, event_type, event_time, signature, signature_valid, payload, body, source)
                    VALUES ($1, $2, $3, $4, $5, NULL, $6::jsonb, $6, $7) ON CONFLICT (event_id) DO NOTHING
                    """, [envelope.id, envelope.tenant, envelope.type, envelope.time, envelope.signature, line, source])
            }
        }
    }
}
