import ArgumentParser
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import PostgresServer
import MallocTuning
import ReconcileJob

/// The reconciliation at scale: a school of `periods × enrollments`, `events` stored events whose
/// folded state matches the roster but for `drift` of the enrollments, and a simulator answering
/// after `latency`.
struct RunBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Time `run` against the simulator with a given latency."
    )

    /// Named sizes, ten events per enrollment each.
    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case small, medium, large
        var shape: (periods: Int, enrollments: Int, events: Int) {
            switch self {
            case .small: (10, 100, 10_000)
            case .medium: (100, 100, 100_000)
            case .large: (100, 1_000, 1_000_000)
            }
        }
    }

    @Option(help: "small (10k events), medium (100k) or large (1M); overrides the three sizes below.") var scenario: Scenario?
    @Option var periods = 100
    @Option var enrollmentsPerPeriod = 1_000
    @Option(help: "Stored events; each enrollment gets events / enrollments of them.") var events = 1_000_000
    @Option(help: "Share of enrollments that drifted (their remote state was changed).") var drift = 0.02
    @Option(help: "Simulator latency per request, in milliseconds.") var latencyMs = 20
    @Option(help: "Requests in flight.") var concurrency = 8
    @Flag(help: "Skip GetStudent (the local part alone, with --latency-ms 0).") var skipStudentDetails = false
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Option(help: "After the run, store this share of new events (0.01: 1%) and time an incremental run against a full refold.")
    var thenNew: Double?

    func run() async throws {
        MallocArenas.limit()
        let (periods, enrollmentsPerPeriod, events) = scenario?.shape ?? (self.periods, self.enrollmentsPerPeriod, self.events)
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let connection = try Connection(conninfo: server.conninfo())
        try Migrator(schema: "dreamclass").migrate(connection)
        let tenant = "bench-school"
        var school = School.generate(periods: periods, studentsPerPeriod: enrollmentsPerPeriod, seed: 42)
        let total = periods * enrollmentsPerPeriod
        let perEnrollment = max(1, events / max(1, total))

        // The store: CREATED then UPDATEDs carrying the same row, so the fold ends where DreamClass is.
        let file = FileManager.default.temporaryDirectory.appending(path: "bench-run-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let out = try FileHandle(forWritingTo: file)
        var random = SeededRandom(seed: 9)
        var chunk: [String] = []
        for rows in school.enrollments.values {
            for row in rows {
                let base = Int64((row.addedAtInstant ?? Date()).timeIntervalSince1970 * 1000)
                for index in 0..<perEnrollment {
                    chunk.append(WebhookEnvelope.body(
                        id: UUID(random: &random), type: index == 0 ? "STUDENT_PERIOD_CREATED" : "STUDENT_PERIOD_UPDATED",
                        tenant: tenant, timestampMillis: base + Int64(index) * 1000, signature: nil, data: row
                    ))
                }
                if chunk.count >= 20_000 {
                    out.write(Data((chunk.joined(separator: "\n") + "\n").utf8))
                    chunk.removeAll(keepingCapacity: true)
                }
            }
        }
        out.write(Data((chunk.joined(separator: "\n") + "\n").utf8))
        try out.close()
        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        let writers = try (0..<2).map { _ in try Connection(conninfo: server.conninfo()) }
        let ingested = try await Ingester(schema: "dreamclass").ingest(&reader, sourceName: "bench", into: writers)
        try WebhookEventsTable(schema: "dreamclass").analyze(on: connection)

        // The drift: DreamClass changed `active` of a share of the enrollments.
        var drifted = 0
        for (period, rows) in school.enrollments {
            for index in rows.indices where Double.random(in: 0..<1, using: &random) < drift {
                school.enrollments[period]![index].active.toggle()
                drifted += 1
            }
        }
        var settings = SimulatorSettings(apiKey: "bench", schoolCode: "B", tenant: tenant)
        if latencyMs > 0 { settings.latency = .milliseconds(latencyMs) ... .milliseconds(latencyMs) }
        let simulator = DreamClassSimulator(school: school, settings: settings)
        let url = try await simulator.start()
        let client = try DreamClassClient(configuration: DreamClassConfiguration(
            baseURL: url, apiKey: "bench", schoolCode: "B", tenant: tenant, pageSize: 0, concurrency: concurrency
        ))

        resetPeakMemory()
        let memoryBefore = peakMemoryMB()
        let start = ContinuousClock.now
        let outcome = try await ReconcileJob(options: .init(schema: "dreamclass", tenant: tenant, skipStudentDetails: skipStudentDetails))
            .run(connection: connection, lockConnection: try Connection(conninfo: server.conninfo()), client: client)
        let seconds = (ContinuousClock.now - start).seconds
        var incremental: [String: Any] = [:]
        if let thenNew {
            incremental = try await timeIncremental(
                share: thenNew, events: ingested.stored, school: school, tenant: tenant, server: server, connection: connection, client: client
            )
        }
        try await client.shutdown()
        await simulator.stop()

        let calls = outcome.run.apiCalls
        let bound = Double(calls) * Double(latencyMs) / 1000 / Double(concurrency)
        let results: [String: Any] = [
            "scenario": scenario?.rawValue ?? "custom", "periods": periods, "enrollments": total, "events": ingested.stored, "drifted": drifted,
            "drift_found": outcome.run.driftCount, "latency_ms": latencyMs, "concurrency": concurrency,
            "wall_s": seconds, "api_calls": calls, "lower_bound_s": bound, "ratio_to_bound": bound > 0 ? seconds / bound : 0,
            "events_per_s": Double(ingested.stored) / seconds, "peak_memory_mb": peakMemoryMB(), "memory_before_mb": memoryBefore,
            "cores": ProcessInfo.processInfo.activeProcessorCount,
        ].merging(incremental) { $1 }
        print("""
            run: \(outcome.summary)
            school: \(periods) periods × \(enrollmentsPerPeriod) enrollments, \(ingested.stored) events, \(drifted) drifted (\(outcome.run.driftCount) found)
            wall: \(String(format: "%.2f", seconds)) s; API calls: \(calls); lower bound calls × latency ÷ concurrency: \(String(format: "%.2f", bound)) s\
            \(bound > 0 ? String(format: " (ratio %.2f)", seconds / bound) : "")
            events/s folded: \(Int(Double(ingested.stored) / seconds)); peak memory during the run: \(peakMemoryMB()) MB (\(memoryBefore) MB at its start, simulator's school included)
            cores: \(ProcessInfo.processInfo.activeProcessorCount)
            """)
        if !incremental.isEmpty {
            print(String(format: "then %d new events: incremental run %.2f s (fold %.2f s, ratio %.2f), full refold %.2f s (fold %.2f s, ratio %.2f)",
                         incremental["new_events"] as! Int, incremental["incremental_s"] as! Double, incremental["incremental_fold_s"] as! Double,
                         incremental["incremental_ratio_to_bound"] as! Double,
                         incremental["refold_s"] as! Double, incremental["refold_fold_s"] as! Double, incremental["refold_ratio_to_bound"] as! Double))
            print(String(format: "the fold alone (no roster read beside it): incremental %.2f s, full %.2f s",
                         incremental["incremental_fold_alone_s"] as! Double, incremental["refold_fold_alone_s"] as! Double))
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }
}

extension RunBench {
    /// Stores `share × events` new UPDATED events that change nothing, then times the fold alone
    /// and whole runs (GetStudent included), each twice: incremental (the kept state and the new
    /// events) and `--full-refold` (every event).
    func timeIncremental(
        share: Double, events: Int, school: School, tenant: String, server: TemporaryPostgresServer, connection: Connection, client: DreamClassClient
    ) async throws -> [String: Any] {
        var random = SeededRandom(seed: 11)
        let rows = school.enrollments.values.flatMap { $0 }
        let count = Int(Double(events) * share)
        let later = Int64(Date().timeIntervalSince1970 * 1000)
        let lines = (0..<count).map { index in
            WebhookEnvelope.body(id: UUID(random: &random), type: "STUDENT_PERIOD_UPDATED", tenant: tenant,
                                 timestampMillis: later + Int64(index), signature: nil, data: rows[Int.random(in: rows.indices, using: &random)])
        }
        let file = FileManager.default.temporaryDirectory.appending(path: "bench-new-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        _ = try await Ingester(schema: "dreamclass").ingest(&reader, sourceName: "bench-new", into: [connection])
        var timings: [String: Any] = ["new_events": count]
        // The local part alone: the same reads, with no roster being decoded beside them.
        for (name, refold) in [("incremental", false), ("refold", true)] {
            let start = ContinuousClock.now
            _ = try LocalEventReader(schema: "dreamclass").read(tenant: tenant, from: connection, refold: refold)
            timings[name + "_fold_alone_s"] = (ContinuousClock.now - start).seconds
        }
        // Whole nightly runs, GetStudent included: the drift is still there, so each looks up its students.
        for (name, refold) in [("incremental", false), ("refold", true)] {
            var options = ReconcileJob.Options(schema: "dreamclass", tenant: tenant, settle: .zero)
            options.fullRefold = refold
            let before = client.statistics.snapshot.totalCalls
            let start = ContinuousClock.now
            let outcome = try await ReconcileJob(options: options)
                .run(connection: connection, lockConnection: try Connection(conninfo: server.conninfo()), client: client)
            let wall = (ContinuousClock.now - start).seconds
            let bound = Double(client.statistics.snapshot.totalCalls - before) * Double(latencyMs) / 1000 / Double(concurrency)
            timings[name + "_s"] = wall
            timings[name + "_fold_s"] = outcome.foldSeconds
            timings[name + "_ratio_to_bound"] = bound > 0 ? wall / bound : 0
        }
        return timings
    }
}

/// Resets the peak resident memory the kernel reports (`VmHWM`), so a phase can be measured alone.
func resetPeakMemory() {
    try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))
}
