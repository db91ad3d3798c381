import CLibPQ

/// The rows of a finished statement. Holds its `PGresult`, which libpq never changes after it
/// is made, so a result may be read from any thread.
public final class QueryResult: @unchecked Sendable {
    private let raw: OpaquePointer
    /// The number of rows returned.
    public let count: Int
    /// The number of columns.
    public let columnCount: Int
    /// The number of rows a command touched (`INSERT`, `UPDATE`, `DELETE`, `COPY`), or 0.
    public let affectedRows: Int

    init(taking raw: OpaquePointer) {
        self.raw = raw
        count = Int(PQntuples(raw))
        columnCount = Int(PQnfields(raw))
        affectedRows = Int(String(cString: PQcmdTuples(raw))) ?? 0
    }

    deinit { PQclear(raw) }

    /// The name of column `index`.
    public func columnName(_ index: Int) -> String {
        String(cString: PQfname(raw, Int32(index)))
    }

    /// The PostgreSQL type of column `index`.
    public func columnType(_ index: Int) -> PostgresType {
        PostgresType(oid: PQftype(raw, Int32(index)))
    }

    /// The index of the column called `name`, if there is one.
    public func columnIndex(_ name: String) -> Int? {
        let index = Int(PQfnumber(raw, name))
        return index >= 0 ? index : nil
    }

    @usableFromInline
    func text(row: Int, column: Int) -> String? {
        bytes(row: row, column: column).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value's text as libpq holds it (valid while this result lives), or `nil` for NULL.
    @usableFromInline
    func bytes(row: Int, column: Int) -> UnsafeBufferPointer<UInt8>? {
        if PQgetisnull(raw, Int32(row), Int32(column)) != 0 { return nil }
        let start = UnsafeRawPointer(PQgetvalue(raw, Int32(row), Int32(column))!).assumingMemoryBound(to: UInt8.self)
        return UnsafeBufferPointer(start: start, count: Int(PQgetlength(raw, Int32(row), Int32(column))))
    }

    /// The rows, in order.
    public var rows: [Row] { (0..<count).map { Row(result: self, index: $0) } }

    /// The first row, if any.
    public var first: Row? { count > 0 ? Row(result: self, index: 0) : nil }
}

/// One row of a `QueryResult`, read by column position or name.
///
/// The decoding functions are inlinable so that callers in other modules get them specialized
/// for the type they ask for: unspecialized, each value cost a lookup of generic metadata, which
/// was a fifth of the time to read 100,000 rows.
public struct Row: Sendable {
    @usableFromInline let result: QueryResult
    @usableFromInline let index: Int

    init(result: QueryResult, index: Int) {
        self.result = result
        self.index = index
    }

    /// The column's value as `T`, or `nil` when it is NULL.
    @inlinable
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T? {
        guard column >= 0, column < result.columnCount else { throw noSuchColumn(column) }
        // The result outlives this call (self holds it): its bytes are read in place.
        guard let bytes = result.bytes(row: index, column: column) else { return nil }
        guard T.accepts(result.columnType(column)), let value = T(postgresBytes: bytes) else {
            throw decodingError(column: column, swiftType: T.self, text: String(decoding: bytes, as: UTF8.self))
        }
        return value
    }

    /// The column's value as `T`; NULL is a decoding error.
    @inlinable
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        guard let value = try decodeIfPresent(T.self, at: column) else {
            throw decodingError(column: column, swiftType: T.self, text: nil)
        }
        return value
    }

    @usableFromInline
    func noSuchColumn(_ column: Int) -> PostgresError {
        PostgresError(kind: .client, message: "row has \(result.columnCount) columns, asked for column \(column)")
    }

    @usableFromInline
    func decodingError(column: Int, swiftType: Any.Type, text: String?) -> PostgresDecodingError {
        PostgresDecodingError(
            column: result.columnName(column), row: index, postgresType: result.columnType(column),
            swiftType: String(describing: swiftType), excerpt: text.map { String($0.prefix(60)) }
        )
    }

    /// The value of the column called `name`; `nil` when it is NULL.
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, named name: String) throws -> T? {
        try decodeIfPresent(type, at: try column(name))
    }

    /// The value of the column called `name`; NULL is a decoding error.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, named name: String) throws -> T {
        try decode(type, at: try column(name))
    }

    /// The leading columns as a tuple, in order: `let (id, name) = try row.decode(Int.self, String.self)`.
    public func decode<each T: PostgresDecodable>(_ types: repeat (each T).Type) throws -> (repeat each T) {
        var column = 0
        func next<U: PostgresDecodable>(_ type: U.Type) throws -> U {
            defer { column += 1 }
            return try decode(type, at: column)
        }
        return (repeat try next(each types))
    }

    private func column(_ name: String) throws -> Int {
        guard let index = result.columnIndex(name) else {
            throw PostgresError(kind: .client, message: "no column named \"\(name)\" in the result")
        }
        return index
    }
}
