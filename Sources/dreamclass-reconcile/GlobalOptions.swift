import ArgumentParser
import FleetJob
import Foundation
import Logging
import Postgres
import Settings

/// Where the event store is, and how much to log. Every job that touches the database takes these.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("database"),
        help: ArgumentHelp(
            "A libpq connection string or URI without a password (default: $DATABASE_URL, else libpq's PG* variables and ~/.pgpass).",
            valueName: "conninfo"
        )
    )
    var conninfo: String?

    @Option(help: "The PostgreSQL schema that holds the tables (default: $DREAMCLASS_SCHEMA, else dreamclass).")
    var schema: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (default: $LOG_LEVEL, else info).")
    var logLevel: String?

    @Option(name: .customLong("config"), help: "A YAML file of schools (default: $DREAMCLASS_CONFIG): `defaults`, then one section per school under `schools`, with school_code, api_key_file (a file holding the key), tenant, base_url, scope or periods, settle, deadline, backfill, max_deletes, max_creates, deliver, deliver_user, deliver_password_file, webhook_secret_file, key_encoding, report_dir and the client's limits; secrets never in the file itself. `config check` checks it.")
    var configPath: String?

    @Option(help: "text or json (default: $LOG_FORMAT, else json when stderr is not a terminal).")
    var logFormat: String?

    var resolvedConfigPath: String? { configPath ?? environment["DREAMCLASS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } }

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedSchema: String { schema ?? environment["DREAMCLASS_SCHEMA"] ?? "dreamclass" }

    func makeLogger(label: String) throws -> Logger {
        let name = logLevel ?? environment["LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw ValidationError("unknown log level \"\(name)\"")
        }
        let formatName = logFormat ?? environment["LOG_FORMAT"]
        guard let format = formatName.map({ LogFormat(rawValue: $0.lowercased()) }) ?? LogFormat.automatic else {
            throw ValidationError("unknown log format \"\(formatName ?? "")\" (text or json)")
        }
        Secrets.registerEnvironment(environment)
        var logger = Logger(label: label) { StderrLogHandler(label: $0, format: format) }
        logger.logLevel = level
        return logger
    }

    /// A connection to the store; with `deadline`, every statement on it ends by then.
    func connect(logger: Logger, deadline: Duration? = nil) throws -> Connection {
        let connection = try conninfo.map { try Connection(conninfo: $0, logger: logger) } ?? Connection(environment: environment, logger: logger)
        if let deadline { connection.setDeadline(.now + deadline) }
        return connection
    }
}
