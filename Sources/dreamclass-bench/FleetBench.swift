import ArgumentParser
import DreamClassSimulator
import EventStore
import Foundation
import Postgres
import PostgresServer

/// Several `run --all-tenants --fresh-within` worker processes sharing a fleet of small schools,
/// each school with an outage's drift of every kind: the wall time of a pass with 1, 2, 4 workers.
struct FleetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet", abstract: "Time passes of `run --all-tenants --fresh-within` workers over a fleet of small schools."
    )

    @Option var schools = 200
    @Option(help: "Worker counts to time, comma-separated: one pass each, in this order.") var workers = "1,2,4"
    @Option(help: "Simulator latency per request, in milliseconds.") var latencyMs = 20
    @Option(help: "Requests in flight per school's run.") var concurrency = 8
    @Option(help: "Periods × enrollments of each school.") var periods = 10
    @Option var enrollmentsPerPeriod = 100

    func run() async throws {
        let counts = workers.split(separator: ",").compactMap { Int($0) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--workers takes positive numbers, comma-separated") }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appending(path: "dreamclass-reconcile").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("\(binary) not found: build it first (swift build -c release --product dreamclass-reconcile)")
        }
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let connection = try Connection(conninfo: server.conninfo())
        try Migrator(schema: "dreamclass").migrate(connection)
        let work = FileManager.default.temporaryDirectory.appending(path: "bench-fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        // Each school: an outage's history stored, DreamClass as it is after it.
        try "bench".write(to: work.appending(path: "key"), atomically: true, encoding: .utf8)
        var yaml = "defaults:\n  settle: 0\n  concurrency: \(concurrency)\n  report_dir: \(work.appending(path: "reports").path)\n"
            + "  api_key_file: \(work.appending(path: "key").path)\nschools:\n"
        var simulators: [DreamClassSimulator] = []
        // Written as generated: 10,000 schools' webhooks would not fit in memory twice.
        let file = work.appending(path: "events.jsonl")
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let output = try FileHandle(forWritingTo: file)
        for index in 0..<schools {
            let tenant = "school-\(index)"
            let scenario = OutageScenario.make(
                school: .generate(periods: periods, studentsPerPeriod: enrollmentsPerPeriod, seed: UInt64(index + 1)), tenant: tenant, outageChanges: 5,
                seed: UInt64(index + 1)
            )
            try output.write(contentsOf: Data((scenario.storedWebhooks.joined(separator: "\n") + "\n").utf8))
            var settings = SimulatorSettings(apiKey: "bench", schoolCode: "B", tenant: tenant)
            if latencyMs > 0 { settings.latency = .milliseconds(latencyMs) ... .milliseconds(latencyMs) }
            let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: settings)
            yaml += "  \(tenant):\n    base_url: \(try await simulator.start())\n    school_code: B\n"
            simulators.append(simulator)
        }
        let config = work.appending(path: "schools.yaml")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        try output.close()
        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        let stored = try await Ingester(schema: "dreamclass").ingest(&reader, sourceName: "bench-fleet", into: [connection]).stored
        try WebhookEventsTable(schema: "dreamclass").analyze(on: connection)
        print("fleet: \(schools) schools of \(periods) × \(enrollmentsPerPeriod) enrollments, \(stored) events stored, latency \(latencyMs) ms, \(concurrency) requests in flight per run")

        // A pass runs a school only when its last complete run is older than --fresh-within: long
        // enough to cover the pass (so a school is run once in it), shorter than the pause since
        // the pass before (so every school is stale at its start). The first pass builds the kept
        // fold states, so the timed ones are the nightly, incremental kind.
        let first = await pass(workers: counts.max()!, freshWithin: 3600, binary: binary, config: config, server: server)
        print(String(format: "first pass (full folds, %d workers): %.1f s, %d runs", counts.max()!, first.seconds, first.runs))
        var freshWithin = ceil(first.seconds) + 1
        for count in counts {
            try await Task.sleep(for: .seconds(freshWithin + 1))
            let timed = await pass(workers: count, freshWithin: freshWithin, binary: binary, config: config, server: server)
            let bound = Double(timed.calls) * Double(latencyMs) / 1000 / Double(concurrency * count)
            print(String(format: "%d worker(s): %.1f s, %d runs (%d schools), %d API calls; bound calls × latency ÷ (concurrency × workers) %.1f s, ratio %.2f",
                         count, timed.seconds, timed.runs, schools, timed.calls, bound, timed.seconds / bound))
            freshWithin = ceil(timed.seconds) + 1
        }
        for simulator in simulators { await simulator.stop() }
        print("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
    }

    /// Starts `workers` worker processes at once and waits for all; counts the runs they made
    /// and their API calls from their summary lines (a failed run has none: it shows as a missing run).
    private func pass(workers: Int, freshWithin: Double, binary: String, config: URL, server: TemporaryPostgresServer) async
        -> (seconds: Double, runs: Int, calls: Int)
    {
        let start = ContinuousClock.now
        // The workers inherit the settings through the environment, not their arguments.
        setenv("DREAMCLASS_CONFIG", config.path, 1)
        setenv("DATABASE_URL", server.conninfo(), 1)
        setenv("LOG_LEVEL", "error", 1)
        let outputs = await withTaskGroup(of: String.self) { group in
            for _ in 0..<workers {
                group.addTask { await shell("'\(binary)' run --all-tenants --fresh-within \(Int(freshWithin))s --parallel 1") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let seconds = (ContinuousClock.now - start).seconds
        let summaries = outputs.flatMap { $0.split(separator: "\n") }.filter { $0.contains("API calls") }
        let calls = summaries.compactMap { line -> Int? in
            guard let range = line.range(of: #"[0-9,]+ API calls"#, options: .regularExpression) else { return nil }
            return Int(line[range].split(separator: " ")[0].replacingOccurrences(of: ",", with: ""))
        }
        return (seconds, summaries.count, calls.reduce(0, +))
    }
}
