import ArgumentParser
import EventStore
import Foundation
import Postgres
import PostgresServer
import Receiver

#if canImport(Glibc)
import Glibc
#endif

/// The receiver's throughput: `wrk` (Debian's package) POSTs unique webhooks over loopback to an
/// in-process receiver writing to a throwaway PostgreSQL.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Requests/s and latency of `serve` under wrk (apt-get install wrk)."
    )

    @Option(help: "wrk connections, comma-separated.") var connections = "16,64"
    @Option(help: "Seconds per load level.") var duration = 10
    @Option(help: "Database connections of the receiver.") var pool = 4

    func run() async throws {
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let conninfo = server.conninfo()
        try Migrator(schema: "dreamclass").migrate(try Connection(conninfo: conninfo))
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.connections = pool
        let receiver = WebhookReceiver(options: options) { try Connection(conninfo: conninfo) }
        let url = try await receiver.start()
        let script = FileManager.default.temporaryDirectory.appending(path: "bench-serve-\(UUID().uuidString).lua")
        defer { try? FileManager.default.removeItem(at: script) }
        // Each request a new event id, so every one is stored, not answered as a duplicate.
        try #"""
            local threads = 0
            function setup(thread)
                threads = threads + 1
                thread:set("tid", threads)
            end
            local counter = 0
            local started = 0
            function init(args) started = os.time() end
            request = function()
                counter = counter + 1
                local id = string.format("%08x-%04x-4000-8000-%012x", started, tid, counter)
                -- Timed now: an old timestamp is refused by the replay window, and nothing is stored.
                local body = '{"id":"' .. id .. '","type":"STUDENT_PERIOD_UPDATED","tenant":"bench","timestamp":' .. (started * 1000) .. ',"data":{"id":' .. counter .. ',"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}}'
                return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
            end
            """#.write(to: script, atomically: true, encoding: .utf8)
        let table = WebhookEventsTable(schema: "dreamclass")
        var failures: [String] = []
        for level in connections.split(separator: ",").compactMap({ Int($0) }) {
            let before = try table.count(on: Connection(conninfo: conninfo))
            let output = await shell("wrk -t2 -c\(level) -d\(duration)s --latency -s '\(script.path)' '\(url)'")
            let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let requests = lines.first { $0.contains("Requests/sec") } ?? "?"
            let p99 = lines.first { $0.hasPrefix("99%") } ?? "?"
            let errors = lines.first { $0.contains("Non-2xx") || $0.contains("Socket errors") }
            // "N requests in 10.00s, ...": what wrk sent, to hold against what was stored.
            let sent = lines.first { $0.contains(" requests in ") }.flatMap { Int($0.split(separator: " ")[0]) }
            let stored = try table.count(on: Connection(conninfo: conninfo)) - before
            print("\(level) connections: \(requests), p99 \(p99.dropFirst(3).trimmingCharacters(in: .whitespaces)), stored \(stored) of \(sent.map(String.init) ?? "?") requests\(errors.map { "; \($0)" } ?? "")")
            // A benchmark whose work did not happen times nothing: answered but not stored, or refused.
            if sent == nil || stored < (sent ?? 0) || errors != nil || stored == 0 {
                failures.append("\(level) connections: \(stored) events stored for \(sent.map(String.init) ?? "an unknown number of") requests\(errors.map { " (\($0))" } ?? "")")
            }
        }
        print("receiver pool \(pool) connections; cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        await receiver.stop()
        if !failures.isEmpty {
            FileHandle.standardError.write(Data(("error: the receiver did not store what it was sent, so these figures time no work:\n"
                + failures.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(1)
        }
    }
}
