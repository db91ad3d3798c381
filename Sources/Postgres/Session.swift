import CLibPQ
import Foundation

/// The connection, lent for the length of a ``Connection/withSession(_:)`` or
/// ``Connection/transaction(_:)`` body, while the body holds the connection's lock.
///
/// Valid only inside that body: it is not `Sendable`, and must not be kept after the body returns.
/// (It is not `~Copyable`, which would say so to the compiler, because Swift 6.3's optimizer
/// crashes on a borrowed non-copyable closure parameter in a generic function.)
public struct Session {
    let raw: OpaquePointer
    let redactor: Redactor
    let prepared: PreparedStatements

    /// Runs one parameterized statement (`$1`, `$2`, ...) and returns its rows.
    ///
    /// Parameters go to the server separately from the statement text (`PQexecParams`), so no
    /// value is ever spliced into SQL. `nil` is NULL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        let result = try withParameters(parameters) { count, values in
            PQexecParams(raw, sql, count, nil, values, nil, nil, 0)
        }
        return try check(result, sql)
    }

    /// ``query(_:_:)`` for a statement run many times on this connection (the receiver's insert):
    /// prepared the first time (PostgreSQL parses and plans it once), executed by name after.
    /// A prepared statement outlives a rollback, and PostgreSQL plans it again when a table it
    /// reads changes.
    @discardableResult
    public func queryPrepared(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        let name: String
        if let known = prepared.names[sql] {
            name = known
        } else {
            name = "prepared_\(prepared.names.count + 1)"
            // Parameters' types are the server's to infer, as for ``query(_:_:)``.
            _ = try check(PQprepare(raw, name, sql, Int32(parameters.count), nil), sql)
            prepared.names[sql] = name
        }
        let result = try withParameters(parameters) { count, values in
            PQexecPrepared(raw, name, count, values, nil, nil, 0)
        }
        return try check(result, sql)
    }

    /// Runs one statement and returns the number of rows it touched.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> Int {
        try query(sql, parameters).affectedRows
    }

    /// Runs a query and hands its rows to `body` one at a time as they arrive (libpq's single-row
    /// mode), so memory does not grow with the size of the result.
    public func stream(
        _ sql: String, _ parameters: [(any PostgresEncodable)?] = [], _ body: (Row) throws -> Void
    ) throws {
        let sent = try withParameters(parameters) { count, values in
            PQsendQueryParams(raw, sql, count, nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(sql) }
        guard PQsetSingleRowMode(raw) == 1 else {
            drain()
            throw PostgresError(kind: .client, message: "could not enter single-row mode", statement: sql)
        }
        var failure: (any Error)?
        while let next = PQgetResult(raw) {
            if failure != nil {
                PQclear(next)
                continue
            }
            switch PQresultStatus(next) {
            case PGRES_SINGLE_TUPLE:
                let result = QueryResult(taking: next)
                do { try body(Row(result: result, index: 0)) } catch {
                    failure = error
                    // Ask the server to stop sending; the rest of the rows are read and dropped.
                    cancel()
                }
            case PGRES_TUPLES_OK:
                PQclear(next)
            default:
                failure = serverError(next, sql)
                PQclear(next)
            }
        }
        if let failure { throw failure }
    }

    /// Runs `COPY ... FROM STDIN` (text format) and feeds it the rows `body` writes.
    ///
    /// Returns the number of rows the server stored. When `body` throws, the COPY is aborted and
    /// nothing of it is stored.
    @discardableResult
    public func copyIn(_ sql: String, _ body: (inout CopyWriter) throws -> Void) throws -> Int {
        try copy(sql) { session in
            var writer = CopyWriter(session: session)
            try body(&writer)
            try writer.flush()
        }
    }

    /// Runs `sql`, a `COPY ... FROM STDIN` without options, in the binary format (the option is
    /// added here), and feeds it the rows `body` writes; otherwise as ``copyIn(_:_:)``.
    @discardableResult
    public func copyInBinary(_ sql: String, _ body: (inout BinaryCopyWriter) throws -> Void) throws -> Int {
        try copy(sql + " (FORMAT binary)") { session in
            var writer = BinaryCopyWriter(session: session)
            try body(&writer)
            try writer.finish()
        }
    }

    private func copy(_ sql: String, feed: (Session) throws -> Void) throws -> Int {
        _ = try check(PQexec(raw, sql), sql, expecting: PGRES_COPY_IN)
        do {
            try feed(self)
        } catch {
            PQputCopyEnd(raw, "aborted by the client")
            drain()
            throw error
        }
        guard PQputCopyEnd(raw, nil) == 1 else { throw connectionError(sql) }
        var stored = 0
        var failure: PostgresError?
        while let next = PQgetResult(raw) {
            if PQresultStatus(next) == PGRES_COMMAND_OK {
                stored = Int(String(cString: PQcmdTuples(next))) ?? 0
            } else if failure == nil {
                failure = serverError(next, sql)
            }
            PQclear(next)
        }
        if let failure { throw failure }
        return stored
    }

    func putCopyData(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(raw, $0.baseAddress, Int32($0.count)) }
        }
        guard sent == 1 else { throw connectionError("COPY") }
    }

    // MARK: - Internals

    private func withParameters<R>(
        _ parameters: [(any PostgresEncodable)?],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R
    ) throws -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { value in
            value.map { strdup($0.postgresText) }
        }
        defer { copies.forEach { free($0) } }
        let values = copies.map { UnsafePointer($0) }
        return values.withUnsafeBufferPointer { body(Int32(parameters.count), $0.baseAddress) }
    }

    private func check(
        _ result: OpaquePointer?, _ sql: String, expecting expected: ExecStatusType? = nil
    ) throws -> QueryResult {
        guard let result else { throw connectionError(sql) }
        let status = PQresultStatus(result)
        let ok = expected.map { status == $0 } ?? (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        guard ok else {
            let error = serverError(result, sql)
            PQclear(result)
            throw error
        }
        return QueryResult(taking: result)
    }

    private func serverError(_ result: OpaquePointer, _ sql: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { redactor.redact(String(cString: $0)) }
        }
        let sqlState = field("C")
        let message = field("M")
            ?? redactor.redact(String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        let kind: PostgresError.Kind = sqlState == nil && PQstatus(raw) != CONNECTION_OK ? .connection : .server
        return PostgresError(
            kind: kind, sqlState: sqlState, message: message.isEmpty ? Connection.errorMessage(raw) : message,
            detail: field("D"), hint: field("H"), statement: sql
        )
    }

    private func connectionError(_ sql: String) -> PostgresError {
        PostgresError(
            kind: PQstatus(raw) == CONNECTION_OK ? .client : .connection,
            message: redactor.redact(Connection.errorMessage(raw)), statement: sql
        )
    }

    private func cancel() {
        guard let cancel = PQgetCancel(raw) else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
        PQfreeCancel(cancel)
    }

    private func drain() {
        while let next = PQgetResult(raw) { PQclear(next) }
    }
}

extension Session {
    /// Runs a script of several statements with no parameters, such as a migration file.
    ///
    /// Only for SQL that ships with the program: it takes no values, so none can be spliced in.
    public func executeScript(_ sql: String) throws {
        _ = try check(PQexec(raw, sql), sql)
    }
}

/// The statements a connection has prepared, by their text. Read and written only while the
/// connection's lock is held (by its ``Session``), hence unchecked.
final class PreparedStatements: @unchecked Sendable {
    var names: [String: String] = [:]
}
