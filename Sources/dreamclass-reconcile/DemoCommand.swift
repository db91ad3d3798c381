import ArgumentParser
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Postgres
import PostgresServer

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Try the tool on a throwaway PostgreSQL: migrate, then ingest a generated webhook stream.",
        discussion: "Needs PostgreSQL's server binaries (Debian: apt-get install postgresql); starts and removes its own server."
    )

    @Option(help: "How many webhook events to generate.")
    var events: Int = 1_000

    func run() async throws {
        var logger = try GlobalOptions.parse([]).makeLogger(label: "demo")
        logger.logLevel = .warning
        try exitOnFailure {
            print("starting a throwaway PostgreSQL ...")
            let server = try TemporaryPostgresServer()
            defer { server.stop() }
            let connection = try Connection(conninfo: server.conninfo(), logger: logger)
            try Migrator(schema: "dreamclass", logger: logger).migrate(connection)

            let file = FileManager.default.temporaryDirectory.appending(path: "demo-webhooks-\(UUID().uuidString).jsonl")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(DemoStream.lines(count: events).joined(separator: "\n").utf8).write(to: file)
            var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
            let summary = try Ingester(schema: "dreamclass", logger: logger)
                .ingest(&reader, sourceName: file.lastPathComponent, into: connection)
            print("ingest: \(summary)")
            let kinds = try connection.query(
                "SELECT event_type, count(*) FROM dreamclass.webhook_events GROUP BY 1 ORDER BY 1"
            ).rows.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Int.self, at: 1))" }
            print("stored: " + kinds.joined(separator: ", "))
            let reasons = try connection.query(
                "SELECT line_number, reason FROM dreamclass.rejected_events ORDER BY line_number"
            ).rows.map { "line \(try $0.decode(Int.self, at: 0)): \(try $0.decode(String.self, at: 1))" }
            print("rejected: " + reasons.joined(separator: "; "))
        }
    }
}

/// A webhook stream with the faults a real one has: a re-delivered event and a broken line.
enum DemoStream {
    static func lines(count: Int) -> [String] {
        var lines = SyntheticWebhooks.lines(count: count, seed: UInt64(Date().timeIntervalSince1970))
        if let first = lines.first { lines.append(first) }
        lines.append(#"{"id":"truncated by a proxy","type":"STUDENT_PERI"#)
        return lines
    }
}
