import ArgumentParser
import EventStore
import FileOutput
import FleetJob
import Settings

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the event store's tables (safe to run again, and from two processes at once)."
    )

    @Option(help: "Stop waiting on PostgreSQL (a lock another session holds, a migration that runs long) after this: 90s, 15m, 2h (default: no limit, but 10m for another migrate to finish); exit 75, nothing of an unfinished file applied.")
    var deadline: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try validateDeadline(deadline)
    }

    func run() async throws {
        let logger = try global.makeLogger(label: "migrate")
        try await exitOnFailure {
            let limit = deadline.flatMap(parseDuration)
            let connection = try global.connect(logger: logger, deadline: limit)
            // The wait for another migration, and the conversion (between batches), stop a little
            // before the deadline rather than have a statement cut off by it.
            var migrator = Migrator(schema: global.resolvedSchema, logger: logger)
            migrator.lockWait = limit.map { $0 * 0.9 } ?? Migrator.defaultLockWait
            var conversion = EventConversion(schema: global.resolvedSchema, logger: logger)
            conversion.progress = { ProgressLine.show("converting stored events: \($0) of about \($1)") }
            let end = limit.map { ContinuousClock.now + $0 * 0.9 }
            let (applied, converted) = try migrator.migrate(connection, conversion: conversion, until: end)
            ProgressLine.show("")
            let schema = global.resolvedSchema
            try StandardStream.output.line(applied.isEmpty
                ? "schema \"\(schema)\" is up to date"
                : "schema \"\(schema)\": applied \(applied.count) migration\(applied.count == 1 ? "" : "s") (\(applied.map(String.init).joined(separator: ", ")))")
            if let sentence = converted?.sentence { try StandardStream.output.line(sentence) }
        }
    }
}

/// Runs `body`; a failure is printed as one clear line on stderr and exits with its code of the contract (``ExitCodes``).
func exitOnFailure(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("error: \(error)\n")
        throw ExitCode(ExitCodes.code(for: error))
    }
}
