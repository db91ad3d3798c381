import ArgumentParser
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import PostgresServer
import Synchronization

/// The online conversion of a store from before the typed columns, with deliveries stored all
/// along (the receiver's own statement, on its own connection): how long it takes, and how long
/// the longest delivery waited.
struct ConvertBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Time `migrate`'s conversion of a store of old-form events while deliveries are stored."
    )

    @Option(help: "Events in the store.") var events = 1_000_000

    func run() async throws {
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let conninfo = server.conninfo()
        let connection = try Connection(conninfo: conninfo)
        _ = try Migrator(schema: "dreamclass").migrate(connection, conversion: nil)
        var written = 0
        while written < events {
            let chunk = min(100_000, events - written)
            let file = FileManager.default.temporaryDirectory.appending(path: "convert-\(UUID().uuidString).jsonl")
            try Data(SyntheticWebhooks.lines(count: chunk, seed: UInt64(written + 1)).joined(separator: "\n").utf8).write(to: file)
            var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
            _ = try Ingester(schema: "dreamclass", batchSize: 10_000).ingest(&reader, sourceName: "convert", into: connection)
            try? FileManager.default.removeItem(at: file)
            written += chunk
        }
        let conversion = EventConversion(schema: "dreamclass")
        try conversion.restoreFormBeforeTypedColumns(connection)
        print("store: \(try WebhookEventsTable(schema: "dreamclass").count(on: connection)) events in the old form")

        // Deliveries, one at a time as a receiver's worker stores them, for as long as the conversion runs.
        final class Flag: Sendable { let running = Mutex(true) }
        let flag = Flag()
        let deliveries = Task.detached { () -> (count: Int, longest: Duration) in
            let inbox = ReceiverInbox(schema: "dreamclass")
            let writer = try Connection(conninfo: conninfo)
            var (count, longest) = (0, Duration.zero)
            while flag.running.withLock({ $0 }) {
                let id = UUID()
                let body = WebhookEnvelope.body(id: id, type: "STUDENT_PERIOD_UPDATED", tenant: "live", timestampMillis: Int64(Date().timeIntervalSince1970 * 1000),
                                                signature: nil, data: Enrollment(id: count + 1, studentId: 1, active: true, addedAt: "2026-12-05T00:00:00Z"))
                let envelope = try WebhookEnvelope.validate(Array(body.utf8))
                let start = ContinuousClock.now
                guard try inbox.store(envelope, body: body, signatureValid: nil, on: writer) == .stored else { throw ValidationError("a delivery was not stored") }
                longest = max(longest, ContinuousClock.now - start)
                count += 1
            }
            return (count, longest)
        }
        let start = ContinuousClock.now
        let outcome = try conversion.run(Connection(conninfo: conninfo))
        let elapsed = ContinuousClock.now - start
        flag.running.withLock { $0 = false }
        let (count, longest) = try await deliveries.value
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = try WebhookEventsTable(schema: "dreamclass").count(on: connection)
        guard case .finished(let converted) = outcome, converted == events, total == events + count else {
            FileHandle.standardError.write(Data("error: the conversion ended \(outcome) for \(events) events, \(total) stored with \(count) deliveries: these figures time no work\n".utf8))
            throw ExitCode(1)
        }
        print("""
            converted: \(converted) events in \(String(format: "%.1f", seconds)) s (\(Int(Double(converted) / seconds)) events/s), index built and the jsonb column dropped
            deliveries stored meanwhile: \(count), every one (the store holds \(total) events), the longest took \(longest)
            cores: \(ProcessInfo.processInfo.activeProcessorCount)
            """)
    }
}
