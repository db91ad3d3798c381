import ArgumentParser
import EventStore
import FileOutput
import Foundation
import Models
import Settings

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove stored events that lost to a newer one and are older than a window (opt-in retention).",
        discussion: """
            Removes a student-period event only when it is older than --older-than, its tenant's last \
            run folded it, and the enrollment's kept state is another event. The winning event of \
            every enrollment, other event types, unusable or badly signed events, backfilled events \
            and anything stored since the last run stay. What is removed can no longer be shown as \
            an enrollment's history; a full refold still gives the same state.
            """
    )

    @Option(help: "Keep everything stored within this: 30d, 90d, 2h (required).")
    var olderThan: String

    @Option(help: "Only this tenant (default: every tenant with a kept state).")
    var tenant: String?

    @Flag(help: "Count what would be removed; remove nothing.")
    var dryRun = false

    @Option(help: "Stop waiting on PostgreSQL after this: 90s, 15m, 2h (default: no limit); exit 75, nothing deleted by the unfinished statement.")
    var deadline: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard let window = parseDuration(olderThan), window > .zero else {
            throw ValidationError("--older-than takes a duration longer than 0 (30d, 90d, 2h), not \"\(olderThan)\"")
        }
    }

    func run() async throws {
        let logger = try global.makeLogger(label: "prune")
        try await exitOnFailure {
            let connection = try global.connect(logger: logger, deadline: deadline.flatMap(parseDuration))
            try Migrator(schema: global.resolvedSchema, logger: logger).requireUpToDate(connection)
            let window = parseDuration(olderThan) ?? .zero
            let cutoff = Date().addingTimeInterval(-window.seconds)
            let counts = try EventRetention(schema: global.resolvedSchema).prune(storedBefore: cutoff, tenant: tenant, dryRun: dryRun, on: connection)
            let total = counts.values.reduce(0, +)
            let perTenant = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            try StandardStream.output.line("prune\(dryRun ? " (dry run)" : ""): \(dryRun ? "would remove" : "removed") \(total) superseded "
                + "event\(total == 1 ? "" : "s") stored before \(Timestamp.format(cutoff).prefix(19))Z" + (perTenant.isEmpty ? "" : " (\(perTenant))"))
        }
    }
}
