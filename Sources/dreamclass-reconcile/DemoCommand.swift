import ArgumentParser
import DreamClassAPI
import DreamClassSimulator
import EventStore
import FileOutput
import FleetJob
import Foundation
import Postgres
import PostgresServer
import ReconcileJob
import Reports

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See the whole job on a throwaway PostgreSQL and the built-in DreamClass simulator.",
        discussion: """
            Starts a private PostgreSQL server and the simulator with a generated school, ingests a \
            webhook stream with an outage in it (creates, updates and deletes missing, out-of-order \
            deliveries, duplicates), runs the reconciliation, prints the summary and the report's \
            path, and removes the server. Needs PostgreSQL's server binaries (Debian: apt-get \
            install postgresql).
            """
    )

    @Option var periods = 6
    @Option var studentsPerPeriod = 120
    @Option(help: "Enrollments of each kind the outage adds, changes and removes.") var outageChanges = 4
    @Option var seed: UInt64 = 1
    @Option(help: "Where the report goes (default: reports/drift-<tenant>-<UTC time>.csv).") var report: String?

    func validate() throws {
        guard (1...1_000).contains(periods) else { throw ValidationError("--periods takes 1 to 1000, not \(periods)") }
        guard (1...10_000).contains(studentsPerPeriod) else { throw ValidationError("--students-per-period takes 1 to 10000, not \(studentsPerPeriod)") }
        guard (0...1_000).contains(outageChanges) else { throw ValidationError("--outage-changes takes 0 to 1000, not \(outageChanges)") }
    }

    func run() async throws {
        var logger = try GlobalOptions.parse([]).makeLogger(label: "demo")
        logger.logLevel = .warning
        let tenant = "demo-school"
        try StandardStream.output.line("starting a throwaway PostgreSQL and the DreamClass simulator ...")
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        let connection = try Connection(conninfo: server.conninfo(), logger: logger)
        try Migrator(schema: "dreamclass", logger: logger).migrate(connection)

        let now = Date()
        let school = School.generate(periods: periods, studentsPerPeriod: studentsPerPeriod, seed: seed, today: now)
        let scenario = OutageScenario.make(school: school, tenant: tenant, outageChanges: outageChanges, seed: seed, now: now)
        let file = FileManager.default.temporaryDirectory.appending(path: "demo-webhooks-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data((scenario.storedWebhooks + [#"{"id":"cut short by a proxy","type":"STUDENT_PERI"#]).joined(separator: "\n").utf8).write(to: file)
        var reader = LineReader(handle: try FileHandle(forReadingFrom: file))
        let ingested = try Ingester(schema: "dreamclass", logger: logger).ingest(&reader, sourceName: file.lastPathComponent, into: connection)
        try StandardStream.output.line("ingest: \(ingested)  (the webhooks the receiver stored before and during an outage)")

        var settings = SimulatorSettings(apiKey: "demo-key-\(UUID().uuidString)", schoolCode: "DEMO", tenant: tenant)
        settings.pageSize = 50
        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: settings, seed: seed)
        let baseURL = try await simulator.start()
        let client = try DreamClassClient(
            configuration: DreamClassConfiguration(baseURL: baseURL, apiKey: settings.apiKey, schoolCode: "DEMO", tenant: tenant),
            logger: logger
        )
        let reportPath = report ?? DriftReport.defaultPath(tenant: tenant, at: now, format: .csv)
        do {
            let outcome = try await ReconcileJob(
                options: .init(schema: "dreamclass", tenant: tenant, reportPath: reportPath), logger: logger
            ).run(connection: connection, lockConnection: try Connection(conninfo: server.conninfo(), logger: logger), client: client, now: now)
            try await client.shutdown()
            await simulator.stop()
            try StandardStream.output.line(outcome.summary)
            try StandardStream.output.line("the outage hid \(scenario.expectedMissedCreates.count) creates, \(scenario.expectedMissedUpdates.count) updates, "
                + "\(scenario.expectedMissedDeletes.count) deletes and \(scenario.expectedStaleDeletes.count) restore(s)")
            try StandardStream.output.line("report: \(reportPath)")
        } catch {
            try? await client.shutdown()
            await simulator.stop()
            printError("error: \(error)\n")
            throw ExitCode(ExitStatus.error)
        }
    }
}
