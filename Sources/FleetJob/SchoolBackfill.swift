import Backfill
import DreamClassAPI
import EventStore
import Foundation
import Logging
import Postgres
import Reconciliation
import Reports
import Settings
import Signing

/// One school's backfill, with its settings: the guard's limits, the secret that signs, the
/// endpoint that receives (and its password), the report's place. `backfill` and `run --backfill`
/// both end here.
public struct SchoolBackfill: Sendable {
    /// The school's settings, flags already over them.
    public var school: SchoolSettings
    public var schema: String
    public var allowMassDelete = false
    public var allowMassCreate = false
    public var dryRun = false
    /// Where the report goes (`-` is stdout); `nil`: the school's report_dir.
    public var reportPath: String?

    public init(school: SchoolSettings, schema: String) {
        self.school = school
        self.schema = schema
    }

    /// Backfills run `runID`; prints the summary; returns the exit code and what was done.
    /// - Parameter label: `[school] `, before every line, when several schools share the output.
    public func run(
        runID: Int64, connection: Connection, environment: [String: String], deadline: ContinuousClock.Instant,
        console: Console, stop: @escaping @Sendable () -> Stop?, logger: Logger, label: String = ""
    ) async -> (code: Int32, outcome: BackfillJob.Outcome?) {
        var sender: WebhookSender?
        do {
            let path = reportPath ?? BackfillReport.defaultPath(in: school.reportDirectory, tenant: school.api.tenant, at: Date())
            let secrets = school.secretsEnvironment(environment)
            func secret(_ name: String) throws -> String? { try Secrets.read(name, environment: secrets, register: console.secret) }
            var options = BackfillJob.Options(schema: schema, runID: runID)
            options.maxDeletes = school.maxDeletes
            options.allowMassDelete = allowMassDelete
            options.createGuard = school.createGuard
            options.allowMassCreate = allowMassCreate
            options.deliveryProgress = { console.status("\(label)delivered \($0) of \($1)") }
            options.dryRun = dryRun
            options.reportPath = path
            options.wouldDeliver = school.deliverURL != nil
            options.interruption = { stop()?.name }
            options.signature = try secret("DREAMCLASS_WEBHOOK_SECRET").map { try WebhookSignature(secret: $0, encoding: school.keyEncoding ?? .base64) }
            if let deliver = school.deliverURL, !dryRun {
                var configuration = WebhookSender.Configuration(url: deliver)
                configuration.deadline = deadline
                if let user = school.deliverUser {
                    guard let password = try secret("DREAMCLASS_DELIVER_PASSWORD") else { throw ConfigurationError.missing("DREAMCLASS_DELIVER_PASSWORD") }
                    configuration.basicAuth = (user, password)
                }
                sender = WebhookSender(configuration: configuration, logger: logger)
            }
            connection.setDeadline(deadline)
            defer { connection.setDeadline(nil) }
            let outcome = try await BackfillJob(options: options, logger: logger).run(connection: connection, sender: sender)
            console.status("")
            try? await sender?.shutdown()
            if let stop = stop() {
                // What was stored and delivered is recorded; the rest is pending for the next backfill.
                console.error(label + "interrupted by \(stop.name): \(outcome.summary); no report written, run it again for the rest\n")
                return (stop.exitCode, outcome)
            }
            try console.write(label + (dryRun ? "dry run, nothing written or delivered: " : "") + outcome.summary + "\n", path == "-")
            if path != "-" { try console.write(label + "backfill report: \(path)\n", false) }
            return (ExitStatus.of(outcome), outcome)
        } catch {
            try? await sender?.shutdown()
            console.error(label + "error: \(error)\n")
            return (ExitCodes.code(for: error, stop: stop()), nil)
        }
    }
}
