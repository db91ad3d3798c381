import EventStore
import Foundation
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
