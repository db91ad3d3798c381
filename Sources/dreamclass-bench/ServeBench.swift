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
                local body = '{"id":"' .. id .. '","type":"STUDENT_PERIOD_UPDATED","tenant":"bench","timestamp":1727862002901,"data":{"id":' .. counter .. ',"active":true,"addedAt":"2024-10-02T09:40:02.179+00:00","studentId":76}}'
                return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
            end
            """#.write(to: script, atomically: true, encoding: .utf8)
        for level in connections.split(separator: ",").compactMap({ Int($0) }) {
            let output = await shell("wrk -t2 -c\(level) -d\(duration)s --latency -s '\(script.path)' '\(url)'")
            let requests = output.split(separator: "\n").first { $0.contains("Requests/sec") } ?? "?"
            let p99 = output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") } ?? "?"
            let errors = output.split(separator: "\n").first { $0.contains("Non-2xx") || $0.contains("Socket errors") }
            print("\(level) connections: \(requests.trimmingCharacters(in: .whitespaces)), p99 \(p99.trimmingCharacters(in: .whitespaces).dropFirst(3).trimmingCharacters(in: .whitespaces))\(errors.map { "; \($0.trimmingCharacters(in: .whitespaces))" } ?? "")")
        }
        let stored = try WebhookEventsTable(schema: "dreamclass").count(on: Connection(conninfo: conninfo))
        print("stored: \(stored) events; receiver pool \(pool) connections; cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        await receiver.stop()
    }
}
