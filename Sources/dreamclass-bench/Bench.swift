import ArgumentParser
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import PostgresServer

/// Benchmarks of the jobs, on a throwaway PostgreSQL. Build with `-c release`: debug builds are
/// many times slower and say nothing about the product.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dreamclass-bench",
        abstract: "Measure the jobs on a throwaway PostgreSQL (use a release build).",
        subcommands: [IngestBench.self, RunBench.self, FleetBench.self, ServeBench.self, ConvertBench.self]
    )
}

/// Runs `command` with `/bin/sh` and returns what it wrote (stdout and stderr). The command
/// starts with no signal blocked: a thread inherits the mask of the runtime thread that made it,
/// and a child with SIGCHLD or SIGTERM blocked waits or lives for ever.
func shell(_ command: String) async -> String {
    await withCheckedContinuation { continuation in
        Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            let log = NSTemporaryDirectory() + "bench-\(UUID().uuidString).out"
            _ = system("\(command) > '\(log)' 2>&1")
            continuation.resume(returning: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            try? FileManager.default.removeItem(atPath: log)
        }.start()
    }
}

struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Time `ingest` of a generated file of webhook events."
    )

    @Option(help: "Events in the file.")
    var events: Int = 1_000_000

    @Option(help: "Lines per transaction.")
    var batchSize: Int = 10_000

    @Option(help: "Connections writing batches at once.")
    var writers: Int = 2

    @Flag(help: "Also time the server's floor: psql's \\copy of the same events, already split into the table's columns, into an empty table of a second schema (same keys and indexes).")
    var floor = false

    func run() async throws {
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let connections = try (0..<writers).map { _ in try Connection(conninfo: server.conninfo()) }
        let connection = connections[0]
        try Migrator(schema: "dreamclass").migrate(connection)

        let file = FileManager.default.temporaryDirectory.appending(path: "bench-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let out = try FileHandle(forWritingTo: file)
        var written = 0
        while written < events {
            let chunk = min(10_000, events - written)
            let lines = SyntheticWebhooks.lines(count: chunk, seed: UInt64(written + 1))
            out.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            written += chunk
        }
        try out.close()
        let bytes = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        let memoryBefore = peakMemoryMB()

        var parseReader = LineReader(handle: try FileHandle(forReadingFrom: file))
        let parseStart = ContinuousClock.now
        let decoder = JSONDecoder()
        while let line = try parseReader.next() { _ = try WebhookEnvelope.validate(line.bytes, decoder: decoder) }
        print("parse only: \(ContinuousClock.now - parseStart)")

        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        let start = ContinuousClock.now
        let summary = try await Ingester(schema: "dreamclass", batchSize: batchSize).ingest(&reader, sourceName: "bench", into: connections)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // A benchmark whose work did not happen times nothing.
        guard summary.stored == events, summary.rejected == 0 else {
            FileHandle.standardError.write(Data("error: \(summary) for \(events) generated events: the figures would time no work\n".utf8))
            throw ExitCode(1)
        }
        // Bytes per stored event: table, indexes and TOAST, after a vacuum, as a store settles.
        let table = WebhookEventsTable(schema: "dreamclass")
        try table.analyze(on: connection)
        let (total, heap, indexes) = try table.sizes(on: connection)
        print("""
            ingest: \(summary)
            stored: \(total / max(1, summary.stored)) bytes per event (table \(heap / max(1, summary.stored)), indexes \(indexes / max(1, summary.stored)), TOAST and maps \((total - heap - indexes) / max(1, summary.stored)))
            file: \(bytes / 1_000_000) MB, batch size \(batchSize), \(writers) writers
            wall: \(String(format: "%.2f", seconds)) s, \(Int(Double(summary.read) / seconds)) events/s
            peak memory: \(peakMemoryMB()) MB (\(memoryBefore) MB before ingest, of which the generator's)
            cores: \(ProcessInfo.processInfo.activeProcessorCount)
            """)
        if floor {
            let floorSeconds = try await timeFloor(file: file, expected: summary.stored, server: server, connection: connection)
            print(String(format: "floor: psql \\copy of the same %d rows, split into columns: %.2f s, %d rows/s; ingest at %.2f of the floor",
                         summary.stored, floorSeconds, Int(Double(summary.stored) / floorSeconds), floorSeconds / seconds))
        }
    }

    /// The rows `ingest` stores, written in COPY's text format to a file (untimed), then loaded by psql into
    /// a second schema's empty table: what the server alone needs for them.
    private func timeFloor(file: URL, expected: Int, server: TemporaryPostgresServer, connection: Connection) async throws -> Double {
        try Migrator(schema: "floor").migrate(connection)
        let rows = FileManager.default.temporaryDirectory.appending(path: "bench-floor-\(UUID().uuidString).tsv")
        defer { try? FileManager.default.removeItem(at: rows) }
        FileManager.default.createFile(atPath: rows.path, contents: nil)
        let out = try FileHandle(forWritingTo: rows)
        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        var buffer: [UInt8] = []
        let decoder = JSONDecoder()
        while let line = try reader.next() {
            let envelope = try WebhookEnvelope.validate(line.bytes, decoder: decoder)
            let typed: [(any PostgresEncodable)?] = LocalEvent.Kind(eventType: envelope.type) == nil
                ? [nil, nil, nil, nil] : [envelope.data.id, envelope.data.studentID, envelope.data.active, envelope.data.addedAt]
            let values: [(any PostgresEncodable)?] = [
                envelope.rawID, envelope.tenant, envelope.type, envelope.time, envelope.signature, nil, String(decoding: line.bytes, as: UTF8.self), "ingest",
            ] + typed
            for (index, value) in values.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: "\t")) }
                if let value { value.appendCopyText(to: &buffer) } else { buffer += Array(#"\N"#.utf8) }
            }
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count > 1 << 20 { try out.write(contentsOf: buffer); buffer.removeAll(keepingCapacity: true) }
        }
        try out.write(contentsOf: buffer)
        try out.close()
        let columns = "event_id, tenant, event_type, event_time, signature, signature_valid, body, source, student_period_id, student_id, active, added_at"
        let start = ContinuousClock.now
        let output = await shell("psql '\(server.conninfo())' -v ON_ERROR_STOP=1 -c \"\\\\copy floor.webhook_events (\(columns)) FROM '\(rows.path)'\"")
        let seconds = (ContinuousClock.now - start).seconds
        // psql says the command and the rows it copied: all of them, or the floor timed nothing.
        guard output.trimmingCharacters(in: .whitespacesAndNewlines) == ["COPY", String(expected)].joined(separator: " ") else {
            FileHandle.standardError.write(Data("error: the floor's copy did not store the \(expected) rows: \(output)\n".utf8))
            throw ExitCode(1)
        }
        return seconds
    }
}

/// The process's peak resident memory (`VmHWM`), in MB.
func peakMemoryMB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return -1 }
    return kb / 1024
}
