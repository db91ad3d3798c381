import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Logging
import Models
import Postgres
import PostgresServer
import ReconcileJob
import Reports

/// `demo`: the whole job on a throwaway PostgreSQL server and the built-in simulator. A generated
/// school's webhooks are stored with an outage in them (creates, updates and deletes missing,
/// deliveries out of order, duplicates, a line cut short), then a run reconciles them against the
/// simulator, which serves the school as it is after the outage.
public struct DemoJob: Sendable {
    public var periods = 6
    public var studentsPerPeriod = 120
    /// Enrollments of each kind the outage adds, changes and removes.
    public var outageChanges = 4
    public var seed: UInt64 = 1
    /// Where the report goes (default: ``DriftReport/defaultPath(tenant:at:format:)``).
    public var reportPath: String?

    /// The tenant the demo's school is stored under.
    public static let tenant = "demo-school"

    public init() {}

    /// What the demo found, beside what its outage hid.
    public struct Result: Sendable {
        public var ingested: Ingester.Summary
        public var outcome: ReconcileJob.Outcome
        public var scenario: OutageScenario
        public var reportPath: String

        /// What the outage hid, to set beside the run's summary.
        public var hidden: String {
            "the outage hid \(scenario.expectedMissedCreates.count) creates, \(scenario.expectedMissedUpdates.count) updates, "
                + "\(scenario.expectedMissedDeletes.count) deletes and \(scenario.expectedStaleDeletes.count) restore(s)"
        }
    }

    /// Runs the demo; `say` gets each step's line as it happens. The server, the simulator and
    /// the webhook file are gone when it returns or throws.
    public func run(logger: Logger, say: (String) throws -> Void) async throws -> Result {
        let tenant = Self.tenant
        try say("starting a throwaway PostgreSQL and the DreamClass simulator ...")
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
        try say("ingest: \(ingested)  (the webhooks the receiver stored before and during an outage)")

        var settings = SimulatorSettings(apiKey: "demo-key-\(UUID().uuidString)", schoolCode: "DEMO", tenant: tenant)
        settings.pageSize = 50
        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: settings, seed: seed)
        let baseURL = try await simulator.start()
        let reportPath = self.reportPath ?? DriftReport.defaultPath(tenant: tenant, at: now, format: .csv)
        let outcome: ReconcileJob.Outcome
        do {
            let configuration = DreamClassConfiguration(baseURL: baseURL, apiKey: settings.apiKey, schoolCode: "DEMO", tenant: tenant)
            outcome = try await DreamClassClient.withClient(configuration: configuration, logger: logger) { client in
                try await ReconcileJob(options: .init(schema: "dreamclass", tenant: tenant, reportPath: reportPath), logger: logger)
                    .run(connection: connection, lockConnection: try Connection(conninfo: server.conninfo(), logger: logger), client: client, now: now)
            }
        } catch {
            await simulator.stop()
            throw error
        }
        await simulator.stop()
        return Result(ingested: ingested, outcome: outcome, scenario: scenario, reportPath: reportPath)
    }
}
