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

    public var description: String {
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
