import APIConfiguration
import DreamClassSimulator
import EventStore
import FleetJob
import Foundation
import Models
import Postgres
import Settings
import Synchronization
import Testing
import TestSupport

/// The fleet without the binary: schools side by side, each one's words labelled, a school
/// another worker holds tried again until it is free, and the worst code theirs.
@Suite struct FleetRunnerTests {
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("fleet")
    }

    /// What the fleet printed, line by line, and where.
    final class Printed: Sendable {
        let lines = Mutex<[(text: String, toError: Bool)]>([])
        var console: Console {
            Console(write: { text, toError in self.lines.withLock { $0.append((text, toError)) } },
                    error: { text in self.lines.withLock { $0.append((text, true)) } })
        }
        func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.text.contains(text) } } }
        func count(_ text: String) -> Int { lines.withLock { $0.count { $0.text.contains(text) } } }
    }

    func fleet(_ options: FleetRunner.Options, printed: Printed) -> FleetRunner {
        let database = self.database
        return FleetRunner(options: options, console: printed.console, stop: { nil }, makeLogger: { _ in .init(label: "fleet-test") },
                           connections: RunConnections { _ in try database.connect() }, environment: [:])
    }

    /// A school served by its own simulator, with a store that holds its webhooks.
    func school(_ name: String, seed: UInt64, failing: Set<Int> = [], reports: URL) async throws -> (SchoolSettings, DreamClassSimulator) {
        let now = Date()
        let generated = School.generate(periods: 2, studentsPerPeriod: 10, seed: seed, today: now)
        let scenario = OutageScenario.make(school: generated, tenant: name, outageChanges: 1, seed: seed, now: now)
        try connection.ingest(scenario.storedWebhooks)
        var settings = SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: name)
        settings.failingPeriods = failing
        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: settings)
        let url = try await simulator.start()
        var school = SchoolSettings(name: name, api: DreamClassConfiguration(baseURL: url, apiKey: "k", schoolCode: "S", tenant: name, maxAttempts: 1))
        school.reportDirectory = reports.path
        return (school, simulator)
    }

    @Test func schoolsRunSideBySideEachLabelledAndTheWorstCodeIsTheirs() async throws {
        let reports = try temporaryFolder("fleet-reports")
        let (north, northSim) = try await school("north", seed: 1, reports: reports)
        let (south, southSim) = try await school("south", seed: 2, failing: [100], reports: reports)
        var options = FleetRunner.Options(schema: "dreamclass")
        options.detailedExitCode = true
        let printed = Printed()
        let results = await fleet(options, printed: printed).run([north, south])
        await northSim.stop()
        await southSim.stop()
        #expect(results.map(\.school.name) == ["north", "south"])
        #expect(results.map(\.code) == [2, 75])
        #expect(results.map(\.status) == [.drift, .incomplete])
        #expect(printed.contains("[north] drift: "))
        #expect(printed.contains("[south] incomplete: period 100"))
        // Each school's report in its report_dir.
        let files = try FileManager.default.contentsOfDirectory(atPath: reports.path)
        #expect(files.filter { $0.hasPrefix("drift-north-") }.count == 1)
        #expect(files.filter { $0.hasPrefix("drift-south-") }.count == 1)

        // The fleet's end: the worst code, the metrics of both, a last success only for north; a
        // Pushgateway that refuses is said, and changes no code.
        let metrics = reports.appending(path: "fleet.prom").path
        let refusing = DreamClassSimulator(school: School.generate(periods: 1, studentsPerPeriod: 1, seed: 1), settings: .init(apiKey: "k", schoolCode: "S", tenant: "t"))
        let reporting = FleetReporting(metricsFile: metrics, metricsPush: try await refusing.start())
        #expect(await reporting.finished(results, console: printed.console) == 75)
        await refusing.stop()
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains(#"dreamclass_reconcile_last_run_status{tenant="south",status="incomplete"} 1"#))
        #expect(text.contains(#"dreamclass_reconcile_last_success_timestamp_seconds{tenant="north"}"#))
        #expect(!text.contains(#"dreamclass_reconcile_last_success_timestamp_seconds{tenant="south"}"#))
        #expect(printed.contains("were not pushed"))
    }

    @Test func aSchoolAnotherWorkerHoldsIsTriedAgainUntilItIsFree() async throws {
        let reports = try temporaryFolder("fleet-held")
        let (north, northSim) = try await school("north", seed: 3, reports: reports)
        let (south, southSim) = try await school("south", seed: 4, reports: reports)
        // Another worker holds north.
        let other = try database.connect()
        let held = try #require(try RunLock.acquire(schema: "dreamclass", tenant: "north", connection: other))
        var options = FleetRunner.Options(schema: "dreamclass")
        options.freshWithin = .seconds(3600)
        options.retryPause = .milliseconds(20)
        options.parallel = 1
        let printed = Printed()
        let released = Task {
            // Once south is done, the other worker lets go of north.
            while !printed.contains("[south] drift: ") { try await Task.sleep(for: .milliseconds(20)) }
            held.release()
        }
        let results = await fleet(options, printed: printed).run([north, south])
        try await released.value
        await northSim.stop()
        await southSim.stop()
        #expect(results.map(\.school.name) == ["north", "south"])
        #expect(results.allSatisfy { $0.code == 0 })
        #expect(printed.count("[north] drift: ") == 1)
        // A second pass finds both fresh and runs neither.
        let again = await fleet(options, printed: printed).run([north, south])
        #expect(again.isEmpty)
        #expect(printed.count("skipped: ") == 2)
    }
}
