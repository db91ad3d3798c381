import ArgumentParser
import DreamClassAPI
import FileOutput
import FleetJob
import Foundation
import ReconcileJob
import Reports
import Settings

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the evidence behind one enrollment's drift: its stored events, what we believe, what DreamClass said, the verdict and the repair.",
        discussion: """
            ENROLLMENT_ID is the report's student_period_id. Against the tenant's newest complete run, or \
            --run. Every stored event of the enrollment is listed, oldest first, the one that counts marked \
            with *, each other with why the fold left it behind. --live reads the enrollment's period and \
            student from DreamClass now and says what a run now would conclude, recording nothing. \
            Exit 64 when the store holds nothing of the enrollment for the tenant (the message says where \
            it looked and which tenant holds it).
            """
    )

    @Argument(help: "The enrollment (student-period) id, as in the report's student_period_id.")
    var enrollmentID: Int

    @Option(help: "The tenant (default: the school's with --school, else $DREAMCLASS_TENANT).")
    var tenant: String?

    @Option(help: "With --config: the school whose tenant (and, for --live, API settings) to use.")
    var school: String?

    @Option(help: "The run to explain (default: the tenant's newest complete run).")
    var run: Int64?

    @Option(help: "text or json.")
    var format: ExplanationReport.Format = .text

    @Flag(help: "Also read the enrollment's period and student from DreamClass now, and say what a run now would conclude (records nothing).")
    var live = false

    @Option(help: "With --live: changes newer than this are in flight: 0, 90s, 15m (default: the school's settle, else 15m).")
    var settle: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if enrollmentID < 1 { throw ValidationError("ENROLLMENT_ID is an enrollment id from 1, not \(enrollmentID)") }
        if let run, run < 1 { throw ValidationError("--run takes a run id from 1, not \(run)") }
        if school != nil, global.resolvedConfigPath == nil { throw ValidationError("--school needs --config") }
        if let settle, parseDuration(settle) == nil { throw ValidationError("--settle takes 0, 90s, 15m or 2h, not \"\(settle)\"") }
    }

    func run() async throws {
        let environment = global.environment
        let logger = try global.makeLogger(label: "explain")
        try await exitOnFailure {
            let (tenant, settings) = try SchoolSelection.tenant(tenant, configPath: global.resolvedConfigPath, school: school, environment: environment)
            var options = ExplainJob.Options(schema: global.resolvedSchema, tenant: tenant, enrollmentID: enrollmentID, runID: run)
            options.settle = settle.flatMap(parseDuration) ?? settings?.settle ?? options.settle
            let job = ExplainJob(options: options)
            let explanation = try await job.explain(connection: try global.connect(logger: logger), allowUnknown: live)
            var now: ExplanationReport.Live?
            if live {
                var api = try settings?.api ?? DreamClassConfiguration.fromEnvironment(environment)
                api.tenant = tenant
                now = try await DreamClassClient.withClient(configuration: api, logger: logger) { try await job.live(explanation, client: $0) }
            }
            try StandardStream.output.write(ExplanationReport.render(explanation, live: now, format: format))
        }
    }
}
extension ExplanationReport.Format: ExpressibleByArgument {}
