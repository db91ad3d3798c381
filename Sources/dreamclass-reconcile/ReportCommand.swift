import ArgumentParser
import EventStore
import FileOutput
import Foundation
import Reports

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Render the report of a past run again."
    )

    @Option(help: "The run's id (see `runs`).") var run: Int64
    @Option(help: "csv or json.") var format: DriftReport.Format = .csv
    @Option(help: "Where the report goes; - is stdout.") var output = "-"
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if run < 1 { throw ValidationError("--run takes a run id from 1, not \(run)") }
    }

    func run() async throws {
        let logger = try global.makeLogger(label: "report")
        try await exitOnFailure {
            let connection = try global.connect(logger: logger)
            let store = RunStore(schema: global.resolvedSchema)
            guard let record = try store.run(run, on: connection) else { throw ValidationError("there is no run \(run) (`dreamclass-reconcile runs` lists the runs)") }
            let items = try store.driftItems(runID: run, on: connection)
            try OutputFile.write(DriftReport.render(items, tenant: record.tenant, format: format), to: output)
        }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List the recent runs.")

    @Option(help: "Only this tenant's runs.") var tenant: String?
    @Option(help: "How many.") var limit = 20
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit takes 1 to 100000, not \(limit)") }
    }

    func run() async throws {
        let logger = try global.makeLogger(label: "runs")
        try await exitOnFailure {
            let connection = try global.connect(logger: logger)
            let runs = try RunStore(schema: global.resolvedSchema).recentRuns(tenant: tenant, limit: limit, on: connection)
            try StandardStream.output.write(RunsTable.render(runs))
        }
    }
}
