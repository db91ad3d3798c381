import ArgumentParser
import Backfill
import EventStore
import FleetJob
import Foundation
import Models
import Reconciliation
import Reports
import Settings
import Signing

/// The settings of a backfill, shared by `backfill` and `run --backfill`. Each flag, when given,
/// wins over the school's setting (``BackfillOverrides``); the job reads only the merged settings.
struct BackfillOptions: ParsableArguments {
    @Option(help: "Deletes per period above this are held: a count, or a share like 10% of its local enrollments (default: the school's max_deletes, else 10%).")
    var maxDeletes: String?

    @Flag(help: "Apply the deletes the mass-delete guard holds.")
    var allowMassDelete = false

    @Flag(help: "Apply the creates the mass-create guard holds: a first load of a school, on purpose.")
    var allowMassCreate = false

    @Option(help: "POST each event to this webhook endpoint, signed with DREAMCLASS_WEBHOOK_SECRET as DreamClass signs (default: the school's deliver).")
    var deliver: String?

    @Option(help: "Basic-auth user for --deliver; the password comes from DREAMCLASS_DELIVER_PASSWORD (or _FILE, or the school's deliver_password_file).")
    var deliverUser: String?

    @Option(help: "How DREAMCLASS_WEBHOOK_SECRET becomes the HMAC key: base64, raw or hex (default: the school's key_encoding, else base64).")
    var keyEncoding: WebhookSignature.KeyEncoding?

    @Option(help: "Where the backfill's CSV goes; - is stdout (default: the school's report_dir, else reports/, as backfill-<tenant>-<UTC time>.csv).")
    var backfillReport: String?

    func validate() throws {
        if let maxDeletes, DeleteLimit(maxDeletes) == nil { throw ValidationError("--max-deletes takes \(DeleteLimit.expected), not \"\(maxDeletes)\"") }
        if let deliver, let problem = EndpointURL.problem(deliver) { throw ValidationError("--deliver \(problem)") }
    }

    /// The flags that go over the school's settings (checked in validate()).
    var overrides: BackfillOverrides {
        BackfillOverrides(maxDeletes: maxDeletes.flatMap(DeleteLimit.init), deliverURL: deliver, deliverUser: deliverUser, keyEncoding: keyEncoding)
    }
}

struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Write the events a run found missing into the store, and deliver them to the school's webhook endpoint.",
        discussion: """
            missed_create and stale_delete become CREATED with DreamClass's row, missed_update UPDATED, \
            missed_delete DELETED with the last local data. Event ids are deterministic: running it \
            again stores nothing twice and delivers only what was not delivered yet. With --config, the \
            school whose tenant the run is of gives max_deletes, max_creates, deliver, deliver_user, \
            deliver_password_file, webhook_secret_file, key_encoding, deadline and report_dir; flags win. Exit codes: \
            0 done; 3 deletes held by the guard; 75 some deliveries failed, the deadline passed or \
            PostgreSQL was unavailable (run it again); 78 creates held by the guard, or a setting is wrong; \
            64 usage or no such run; 1 error; 143/130 stopped by SIGTERM/SIGINT.
            """
    )

    @Option(help: "The run to repair (see `runs`).") var run: Int64
    @Flag(help: "Print what would be written and delivered; write and deliver nothing.") var dryRun = false
    @Option(help: "Stop after this (90s, 15m, 2h, 1d; default: the school's deadline, else 3h): what is left stays undelivered, exit 75.")
    var deadline: String?
    @Option(help: "With --config: the school whose settings apply (default: the one whose tenant the run is of).")
    var school: String?
    @OptionGroup var backfill: BackfillOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try validateDeadline(deadline)
        if run < 1 { throw ValidationError("--run takes a run id from 1, not \(run)") }
        if school != nil, global.resolvedConfigPath == nil { throw ValidationError("--school needs --config") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try global.makeLogger(label: "backfill")
        // Bounded from the first statement: the school's own deadline replaces this once known.
        let connection = try global.connect(logger: logger, deadline: deadline.flatMap(parseDuration) ?? SchoolSettings.defaultDeadline)
        let tenant = try RunStore(schema: global.resolvedSchema).run(run, on: connection)?.tenant
        guard let tenant else { throw BackfillError.noSuchRun(run) }
        var backfill = SchoolBackfill(school: self.backfill.overrides.applied(to: try SchoolSelection.school(ofRun: run, tenant: tenant, configPath: global.resolvedConfigPath, school: school, environment: environment,
                                                                               warning: { printError("warning: \($0)\n") })),
                                      schema: global.resolvedSchema)
        backfill.allowMassDelete = self.backfill.allowMassDelete
        backfill.allowMassCreate = self.backfill.allowMassCreate
        backfill.dryRun = dryRun
        backfill.reportPath = self.backfill.backfillReport
        let deadline = ContinuousClock.now + (self.deadline.flatMap(parseDuration) ?? backfill.school.deadline)
        let (code, _) = try await Interruption.run { [backfill] in
            await backfill.run(runID: run, connection: connection, environment: environment, deadline: deadline, console: .commandLine,
                               stop: { Interruption.stop }, logger: logger)
        }
        if code != ExitStatus.ok { throw ExitCode(code) }
    }
}

/// `--deadline` takes a duration longer than 0.
func validateDeadline(_ text: String?) throws {
    guard let text else { return }
    guard let duration = parseDuration(text), duration > .zero else {
        throw ValidationError("--deadline takes a duration longer than 0 (90s, 15m, 2h, 1d), not \"\(text)\"")
    }
}
