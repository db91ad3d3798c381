/// An error from PostgreSQL or from the libpq client.
///
/// Server errors carry the fields PostgreSQL reports (SQLSTATE, message, detail, hint), so callers
/// can branch on `sqlState` (for example `23505`, a unique violation) instead of parsing text.
/// Messages never contain the connection's password: it is redacted before the error is made.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// Where the error came from.
    public enum Kind: Sendable, Equatable {
        /// The connection could not be opened, or broke.
        case connection
        /// The server rejected a statement.
        case server
        /// The client could not send a statement or its data (bad parameter, COPY failure).
        case client
        /// The job's deadline passed before or while PostgreSQL worked on a statement.
        case timeout
    }

    public var kind: Kind
    /// The five-character SQLSTATE code, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The statement that failed, when there was one. Statements are parameterized, so the text
    /// holds no values.
    public var statement: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
        hint: String? = nil, statement: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.statement = statement
    }

    /// The deadline passed, or the server gave up a statement for it: a lock held elsewhere
    /// (`55P03`, lock_timeout) or a statement that ran too long (`57014`, statement_timeout or a
    /// cancel). Try again later.
    public var isTimeout: Bool {
        kind == .timeout || sqlState == "55P03" || sqlState == "57014"
    }

    /// The server refused a value of the row itself (class 22, data exception; 54000, a value too
    /// large for an index; 23514, a check): that row's problem, not the connection's or the
    /// batch's. Another row goes in.
    public var isRowRefused: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("22") || sqlState == "54000" || sqlState == "23514"
    }

    /// The deadline passed before a statement could be sent.
    static func deadlinePassed() -> PostgresError {
        PostgresError(kind: .timeout, message: "the deadline passed before the statement could be sent to PostgreSQL")
    }

    /// This error as the job's deadline explains it, when the server gave up for the timeouts
    /// the deadline set.
    func naming(deadline: ContinuousClock.Instant) -> PostgresError {
        guard kind == .server, sqlState == "55P03" || sqlState == "57014", ContinuousClock.now + .seconds(2) >= deadline else { return self }
        var error = self
        error.kind = .timeout
        error.message = sqlState == "55P03"
            ? "waited for a lock until the deadline (\(message)): another session holds a lock on a table this job needs "
                + "(a migration, VACUUM FULL, LOCK TABLE); pg_locks and pg_stat_activity show which"
            : "a statement ran until the deadline (\(message))"
        return error
    }

    public var description: String {
        if kind == .timeout { return "PostgreSQL: \(message)" + (statement.map { " (statement: \($0.prefix(80)))" } ?? "") }
        var text = "PostgreSQL"
        if let sqlState { text += " error \(sqlState)" } else { text += " \(kind) error" }
        text += ": \(message)"
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        if kind == .connection, sqlState == nil {
            text += " (check DATABASE_URL or --database, the PG* variables and ~/.pgpass, and that the server runs)"
        }
        return text
    }

    /// The class of error PostgreSQL assigns to SQLSTATE `08xxx`, plus libpq's own connection
    /// failures: the statement may not have run, and the connection is unusable.
    public var isConnectionFailure: Bool {
        kind == .connection || sqlState?.hasPrefix("08") == true || sqlState == "57P01"
    }
}

/// A column value that could not be decoded as the Swift type asked for.
public struct PostgresDecodingError: Error, Sendable, CustomStringConvertible {
    public var column: String
    public var row: Int
    public var postgresType: PostgresType
    public var swiftType: String
    /// The start of the value's text, to tell what was there.
    public var excerpt: String?

    public var description: String {
        var text = "cannot decode column \"\(column)\" (row \(row), PostgreSQL type \(postgresType)) as \(swiftType)"
        if let excerpt { text += ": value \"\(excerpt)\"" } else { text += ": value is NULL" }
        return text
    }
}
