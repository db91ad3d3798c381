import ArgumentParser
import Backfill
import DreamClassAPI
import EventStore
import FileOutput
import Foundation
import Postgres
import Reconciliation
import Reports
import Settings
import Signing

/// The settings of a backfill, shared by `backfill` and `run --backfill`.
struct BackfillOptions: ParsableArguments {
    @Option(help: "Deletes per period above this are held: a count, or a share like 10% of its local enrollments (default: the school's max_deletes, else 10%).")
    var maxDeletes: String?

    @Flag(help: "Apply the deletes the mass-delete guard holds.")
    var allowMassDelete = false

    @Option(help: "POST each event to this webhook endpoint, signed with DREAMCLASS_WEBHOOK_SECRET as DreamClass signs.")
    var deliver: String?

    @Option(help: "Basic-auth user for --deliver; the password comes from DREAMCLASS_DELIVER_PASSWORD (or _FILE).")
    var deliverUser: String?

    @Option(help: "How DREAMCLASS_WEBHOOK_SECRET becomes the HMAC key: base64 or raw.")
    var keyEncoding: WebhookSignature.KeyEncoding = .base64

    @Option(help: "Where the backfill's CSV goes; - is stdout (default: reports/backfill-<tenant>-<UTC time>.csv).")
    var backfillReport: String?

    func validate() throws {
        if let maxDeletes, DeleteLimit(maxDeletes) == nil { throw ValidationError("--max-deletes takes \(DeleteLimit.expected), not \"\(maxDeletes)\"") }
        if deliverUser != nil, deliver == nil { throw ValidationError("--deliver-user needs --deliver") }
    }

    /// Backfills run `runID`; prints the summary, writes the CSV; returns the exit code.
    /// `fileMaxDeletes` is the school's setting, which `--max-deletes` overrides.
    func backfill(
        runID: Int64, dryRun: Bool, global: GlobalOptions, environment: [String: String] = ProcessInfo.processInfo.environment,
        fileMaxDeletes: DeleteLimit = .percent(10), deadline: ContinuousClock.Instant, label: String = ""
    ) async throws -> Int32 {
        let logger = try global.makeLogger(label: "backfill")
        var options = BackfillJob.Options(schema: global.resolvedSchema, runID: runID)
        // Checked in validate(); the flag wins over the file.
        options.maxDeletes = maxDeletes.flatMap(DeleteLimit.init) ?? fileMaxDeletes
        options.allowMassDelete = allowMassDelete
        options.deliveryProgress = { ProgressLine.show("\(label)delivered \($0) of \($1)") }
        options.dryRun = dryRun
        options.signature = try secret("DREAMCLASS_WEBHOOK_SECRET", environment: environment).map { try WebhookSignature(secret: $0, encoding: keyEncoding) }
        var sender: WebhookSender?
        if let deliver, !dryRun {
            var configuration = WebhookSender.Configuration(url: deliver)
            configuration.deadline = deadline
            if let deliverUser {
                guard let password = try secret("DREAMCLASS_DELIVER_PASSWORD", environment: environment) else {
                    throw ValidationError("--deliver-user needs DREAMCLASS_DELIVER_PASSWORD (or DREAMCLASS_DELIVER_PASSWORD_FILE)")
                }
                configuration.basicAuth = (deliverUser, password)
            }
            sender = WebhookSender(configuration: configuration, logger: logger)
        }
        do {
            let connection = try global.connect(logger: logger)
            let outcome = try await BackfillJob(options: options, logger: logger).run(connection: connection, sender: sender)
            ProgressLine.show("")
            try? await sender?.shutdown()
            if let signal = Interruption.signal {
                // What was stored and delivered is recorded; the rest is pending for the next backfill.
                StandardStream.error.attempt(label + "interrupted by \(signal): \(outcome.summary); no report written, run it again for the rest\n")
                return Interruption.exitCode ?? 130
            }
            let tenant = try RunStore(schema: global.resolvedSchema).run(runID, on: connection)?.tenant ?? "unknown"
            let path = backfillReport ?? BackfillReport.defaultPath(tenant: tenant, at: Date())
            try OutputFile.write(BackfillReport.render(outcome.reportRows, wouldDeliver: dryRun && deliver != nil), to: path)
            let out = path == "-" ? StandardStream.error : StandardStream.output
            try out.write(label + (dryRun ? "dry run, nothing written or delivered: " : "") + outcome.summary + "\n")
            if path != "-" { try out.write(label + "backfill report: \(path)\n") }
            return outcome.deliveryFailed > 0 ? ExitStatus.tryAgain : ExitStatus.ok
        } catch {
            try? await sender?.shutdown()
            StandardStream.error.attempt(label + "error: \(error)\n")
            return 1
        }
    }
}

struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Write the events a run found missing into the store, and deliver them to the school's webhook endpoint.",
        discussion: """
            missed_create and stale_delete become CREATED with DreamClass's row, missed_update UPDATED, \
            missed_delete DELETED with the last local data. Event ids are deterministic: running it \
            again stores nothing twice and delivers only what was not delivered yet. Exit codes: 0 done; \
            75 some deliveries failed or the deadline passed (run it again); 1 error; 64 usage; 143/130 \
            stopped by SIGTERM/SIGINT.
            """
    )

    @Option(help: "The run to repair (see `runs`).") var run: Int64
    @Flag(help: "Print what would be written and delivered; write and deliver nothing.") var dryRun = false
    @Option(help: "Stop delivering after this (0, 90s, 15m, 2h, 1d; default 3h): what is left stays undelivered, exit 75.")
    var deadline: String?
    @OptionGroup var backfill: BackfillOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try validateDeadline(deadline)
    }

    func run() async throws {
        let limit = deadline.flatMap(parseDuration) ?? SchoolSettings.defaultDeadline
        let (backfill, runID, dryRun, global) = (self.backfill, self.run, self.dryRun, self.global)
        let code = try await Interruption.run {
            try await backfill.backfill(runID: runID, dryRun: dryRun, global: global, deadline: .now + limit)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `--deadline` takes a duration longer than 0.
func validateDeadline(_ text: String?) throws {
    guard let text else { return }
    guard let duration = parseDuration(text), duration > .zero else {
        throw ValidationError("--deadline takes a duration longer than 0 (90s, 15m, 2h, 1d), not \"\(text)\"")
    }
}
