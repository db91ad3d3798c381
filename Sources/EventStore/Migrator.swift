import Foundation
import Logging
import Postgres

/// Applies the numbered migrations to one schema.
///
/// Each pending file runs in its own transaction, recorded with its checksum in
/// `schema_migrations`. A session advisory lock makes concurrent runs wait for each other, so two
/// processes migrating at once apply every file exactly once.
public struct Migrator: Sendable {
    public var schema: String
    public var migrations: [Migration]
    public var logger: Logger
    /// How long to wait for another migration of the schema (it may be converting a large store
    /// for hours) before giving up with ``MigrationError/busy(schema:waited:)``.
    public var lockWait: Duration = Self.defaultLockWait

    /// ``lockWait`` unless `migrate --deadline` says otherwise: long enough for another `migrate`
    /// to apply its files, short enough that a nightly job stuck behind a conversion says so.
    public static let defaultLockWait: Duration = .seconds(600)

    public init(schema: String, migrations: [Migration] = Migration.bundled, logger: Logger = Logger(label: "migrate")) {
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies what is pending, then converts the events stored before the typed columns (see
    /// ``EventConversion``); returns the versions applied now (empty when up to date).
    @discardableResult
    public func migrate(_ connection: Connection) throws -> [Int] {
        try migrate(connection, conversion: EventConversion(schema: schema, logger: logger)).applied
    }

    /// Applies what is pending, then runs `conversion` (unless `nil`: a test of a store caught
    /// half-way) until `deadline`; both under the migration lock, so two processes never convert
    /// at once.
    public func migrate(
        _ connection: Connection, conversion: EventConversion?, until deadline: ContinuousClock.Instant? = nil
    ) throws -> (applied: [Int], conversion: EventConversion.Outcome?) {
        let lockKey = "dreamclass-reconcile:migrate:\(schema)"
        try takeLock(lockKey, on: connection)
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey]) }
        let applied = try applyPending(connection)
        return (applied, try conversion?.run(connection, until: deadline))
    }

    /// Takes the schema's migration lock, waiting up to ``lockWait`` for another migration.
    ///
    /// Tried, and tried again after a pause, rather than waited for inside a statement: a waiting
    /// statement holds a snapshot, and the conversion's CREATE INDEX CONCURRENTLY in the process
    /// that holds the lock waits for every older snapshot to go, so the two would deadlock. The
    /// connection's deadline passing during the wait ends it the same way as `lockWait`.
    private func takeLock(_ key: String, on connection: Connection) throws {
        let start = ContinuousClock.now
        var pause: Duration = .milliseconds(10)
        var refused = false
        while true {
            do {
                if try connection.query("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key]).first?.decode(Bool.self, at: 0) == true {
                    return
                }
            } catch let error as PostgresError where error.isTimeout && refused {
                throw MigrationError.busy(schema: schema, waited: ContinuousClock.now - start)
            }
            if !refused { logger.notice("waiting for another migration of this schema to finish", metadata: ["schema": "\(schema)"]) }
            refused = true
            let waited = ContinuousClock.now - start
            if waited >= lockWait { throw MigrationError.busy(schema: schema, waited: waited) }
            // The last try comes at `lockWait`, not a pause past it.
            usleep(UInt32((min(pause, lockWait - waited).seconds * 1_000_000).rounded()))
            pause = min(pause * 2, .milliseconds(500))
        }
    }

    private func applyPending(_ connection: Connection) throws -> [Int] {

        let qualified = quoteIdentifier(schema)
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(qualified)")
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS \(qualified).schema_migrations (
                version    integer PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let applied = try appliedVersions(connection)
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw MigrationError.unknownVersion(version: version, name: record.name, schema: schema)
            }
            guard migration.checksum == record.checksum else {
                throw MigrationError.checksumMismatch(version: version, name: migration.name, schema: schema)
            }
        }
        var appliedNow: [Int] = []
        for migration in migrations where applied[migration.version] == nil {
            logger.info("applying migration", metadata: ["file": "\(migration.name)", "schema": "\(schema)"])
            do {
                try connection.transaction { session in
                    try session.execute("SELECT set_config('search_path', $1, true)", [qualified])
                    try session.executeScript(migration.sql)
                    try session.execute(
                        "INSERT INTO \(qualified).schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [migration.version, migration.name, migration.checksum]
                    )
                }
            } catch let error as PostgresError {
                throw MigrationError.failed(name: migration.name, error: error)
            }
            appliedNow.append(migration.version)
        }
        return appliedNow
    }

    /// The versions recorded as applied, with their names and checksums.
    public func appliedVersions(_ connection: Connection) throws -> [Int: (name: String, checksum: String)] {
        let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL", ["\(quoteIdentifier(schema)).schema_migrations"])
        guard try exists.first?.decode(Bool.self, at: 0) == true else { return [:] }
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in try connection.query("SELECT version, name, checksum FROM \(quoteIdentifier(schema)).schema_migrations").rows {
            let (version, name, checksum) = try row.decode(Int.self, String.self, String.self)
            applied[version] = (name, checksum)
        }
        return applied
    }

    /// Whether every bundled migration has been applied.
    public func isUpToDate(_ connection: Connection) throws -> Bool {
        let applied = try appliedVersions(connection)
        return migrations.allSatisfy { applied[$0.version] != nil }
    }

    /// Throws ``MigrationError/notUpToDate(schema:)`` unless every bundled migration is applied:
    /// the jobs refuse to work on a store older than they are.
    public func requireUpToDate(_ connection: Connection) throws {
        guard try isUpToDate(connection) else { throw MigrationError.notUpToDate(schema: schema) }
    }
}

/// Why migrating stopped.
public enum MigrationError: Error, Sendable, CustomStringConvertible {
    /// An applied file's text has changed since it was applied.
    case checksumMismatch(version: Int, name: String, schema: String)
    /// The database has a migration this binary does not know: it was migrated by a newer version.
    case unknownVersion(version: Int, name: String, schema: String)
    /// A file's SQL failed; nothing of it was applied.
    case failed(name: String, error: PostgresError)
    /// The store is missing or older than this binary.
    case notUpToDate(schema: String)
    /// Another migration of the schema held its lock all the `waited` time: nothing was applied.
    case busy(schema: String, waited: Duration)

    public var description: String {
        switch self {
        case .checksumMismatch(let version, let name, let schema):
            "migration \(name) (version \(version)) was applied to schema \"\(schema)\" but the file has changed since; "
                + "restore it and put the change in a new numbered file"
        case .unknownVersion(let version, let name, let schema):
            "schema \"\(schema)\" has migration \(name) (version \(version)), which this binary does not know: "
                + "it was migrated by a newer dreamclass-reconcile; run that version or a newer one"
        case .failed(let name, let error):
            "migration \(name) failed and was rolled back: \(error); fix the cause, then run `dreamclass-reconcile migrate` again"
        case .notUpToDate(let schema):
            "the event store in schema \"\(schema)\" is missing or out of date: run `dreamclass-reconcile migrate` first"
        case .busy(let schema, let waited):
            "another migration of schema \"\(schema)\" held its lock for all of the \(String(format: "%g", (waited.seconds * 10).rounded() / 10)) s waited "
                + "(a `migrate` converting a large store takes a while): nothing was applied; try again later, "
                + "or give `migrate --deadline` a longer wait"
        }
    }
}
