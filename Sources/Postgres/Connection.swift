import CLibPQ
import Foundation
import Logging
import Synchronization

/// One connection to PostgreSQL through libpq.
///
/// A connection runs one statement at a time: every call takes the connection's lock for as long
/// as it talks to the server, so a `Connection` may be shared between tasks. Calls block the
/// calling thread while the server works; this is a batch job's client, not an event-loop one.
///
/// Use ``withSession(_:)`` or ``transaction(_:)`` to run several statements without another task
/// getting between them.
public final class Connection: Sendable {
    private let handle: Mutex<OpaquePointer>
    private let notices: NoticeSink
    private let redactor: Redactor
    private let bound: Mutex<Bound>
    private let prepared = PreparedStatements()

    /// The job's deadline, and the statement and lock timeouts last sent for it.
    private struct Bound {
        var deadline: ContinuousClock.Instant?
        /// The remaining time the server's timeouts were last set to; `nil` when they are the
        /// connection's own (none was sent, or a rollback may have undone them).
        var applied: Duration?
    }

    /// What every connection sets unless its connection string says otherwise: a connect that
    /// gives up after 10 s (`PGCONNECT_TIMEOUT` wins), and TCP keepalives and a user timeout that
    /// notice a server gone without a word (a host powered off, a cut network) within about two
    /// minutes instead of the kernel's two hours.
    public static let defaultParameters: [(key: String, value: String)] = [
        ("connect_timeout", "10"), ("keepalives", "1"), ("keepalives_idle", "60"), ("keepalives_interval", "10"),
        ("keepalives_count", "6"), ("tcp_user_timeout", "120000"),
    ]

    /// Why a `postgres://user:password@host/db` URI cannot be read as meant: a password with an
    /// unencoded `/`, `?` or `#` ends the URI's authority early, and libpq then reads part of
    /// the password as the host or port and prints it. The URI is not repeated.
    static func uriProblem(_ conninfo: String) -> String? {
        guard conninfo.hasPrefix("postgres"), let scheme = conninfo.range(of: "://") else { return nil }
        let rest = conninfo[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard authority.contains(":"), !authority.contains("@"), rest[authorityEnd...].contains("@") else { return nil }
        return "invalid connection URI: its password seems to hold an unencoded /, ? or #; percent-encode it (/ as %2F, ? as %3F, "
            + "# as %23), or use ~/.pgpass or PGPASSWORD. The URI is not shown: it holds the password"
    }

    /// `PQconnectdbParams` with ``defaultParameters`` before the caller's string, which libpq
    /// expands in place (`expand_dbname`), so every key the caller gives wins.
    private static func connect(_ conninfo: String) -> OpaquePointer? {
        let environment = ProcessInfo.processInfo.environment
        var pairs = defaultParameters.filter { $0.key != "connect_timeout" || (environment["PGCONNECT_TIMEOUT"] ?? "").isEmpty }
        pairs.append(("dbname", conninfo))
        let keys = pairs.map { strdup($0.key) }
        let values = pairs.map { strdup($0.value) }
        defer { (keys + values).forEach { free($0) } }
        let keyPointers = keys.map { UnsafePointer($0) } + [nil]
        let valuePointers = values.map { UnsafePointer($0) } + [nil]
        return PQconnectdbParams(keyPointers, valuePointers, 1)
    }

    /// Opens a connection.
    ///
    /// - Parameter conninfo: a libpq connection string (`host=... dbname=...`) or URI
    ///   (`postgresql://...`). Empty means libpq's defaults: the `PG*` environment variables and
    ///   `~/.pgpass`. ``init(environment:logger:)`` reads `DATABASE_URL` first.
    public init(conninfo: String, logger: Logger = Logger(label: "postgres")) throws {
        if let problem = Self.uriProblem(conninfo) { throw PostgresError(kind: .connection, message: problem) }
        var redactor = Redactor(conninfo: conninfo)
        guard let raw = Self.connect(conninfo) else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        if let password = PQpass(raw).map({ String(cString: $0) }) { redactor.add(password) }
        guard PQstatus(raw) == CONNECTION_OK else {
            let message = redactor.redact(Self.errorMessage(raw))
            PQfinish(raw)
            throw PostgresError(kind: .connection, message: message)
        }
        let sink = NoticeSink(logger: logger)
        PQsetNoticeReceiver(raw, noticeReceiver, Unmanaged.passUnretained(sink).toOpaque())
        self.notices = sink
        self.redactor = redactor
        self.handle = Mutex(raw)
        self.bound = Mutex(Bound())
        // Text forms of timestamps are parsed by this wrapper: fix them whatever the server's defaults.
        try execute("SET TIME ZONE 'UTC'")
        try execute("SET DateStyle = 'ISO, YMD'")
        // Swift's strings are UTF-8: the server converts them for a database in another encoding,
        // and refuses what it cannot hold, instead of keeping UTF-8 bytes as if they were its own.
        try execute("SET client_encoding = 'UTF8'")
    }

    /// Opens a connection from `DATABASE_URL` when it is set, otherwise from libpq's defaults
    /// (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, `~/.pgpass`, ...).
    public convenience init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "postgres")
    ) throws {
        try self.init(conninfo: environment["DATABASE_URL"] ?? "", logger: logger)
    }

    deinit {
        handle.withLock { PQfinish($0) }
    }

    /// Runs `body` with the connection to itself: no other task's statement runs in between.
    @discardableResult
    public func withSession<T: Sendable>(_ body: (Session) throws -> T) throws -> T {
        try handle.withLock { raw in
            let session = Session(raw: raw, redactor: redactor, prepared: prepared)
            let deadline = try applyDeadline(session)
            do {
                return try body(session)
            } catch {
                // A rollback undoes a SET made in the transaction: send the timeouts again.
                bound.withLock { $0.applied = nil }
                guard let error = error as? PostgresError, let deadline else { throw error }
                throw error.naming(deadline: deadline)
            }
        }
    }

    /// Bounds every statement from now on by `deadline`: the server's `statement_timeout` and
    /// `lock_timeout` are set to the time it leaves (sent again as it shrinks, at most once a
    /// second), so a statement blocked by another session's lock ends by the deadline with a
    /// ``PostgresError`` whose ``PostgresError/isTimeout`` is true; once it has passed, no
    /// statement is sent. `nil` gives the connection its own timeouts back.
    public func setDeadline(_ deadline: ContinuousClock.Instant?) {
        bound.withLock { $0.deadline = deadline }
    }

    /// Gives the statements that record why work stopped `grace` past a deadline that passed or
    /// is about to: writing "failed" must not fail for want of time.
    public func extendDeadline(by grace: Duration) {
        bound.withLock { bound in
            if let deadline = bound.deadline { bound.deadline = max(deadline, .now + grace) }
        }
    }

    /// Sends the deadline's timeouts when they are due; returns the deadline, if one is set.
    private func applyDeadline(_ session: Session) throws -> ContinuousClock.Instant? {
        let (deadline, applied) = bound.withLock { ($0.deadline, $0.applied) }
        guard let deadline else {
            if applied != nil {
                try session.executeScript("RESET statement_timeout; RESET lock_timeout")
                bound.withLock { $0.applied = nil }
            }
            return nil
        }
        guard PQtransactionStatus(session.raw) != PQTRANS_INERROR else { return deadline }
        let remaining = deadline - .now
        guard remaining > .zero else { throw PostgresError.deadlinePassed() }
        // Sent again when the time left moved by a second or more either way: shrinking as the job
        // goes on, or grown by ``extendDeadline(by:)`` (a failing run's grace must not inherit
        // the last few milliseconds).
        if let applied, applied - remaining < .seconds(1), remaining - applied < .seconds(1) { return deadline }
        // The lock wait gives up a little first, so that its own error (which names the lock)
        // is the one reported.
        // PostgreSQL's timeouts hold at most INT_MAX milliseconds (24.8 days).
        let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        let statement = max(1, min(milliseconds, Int64(Int32.max)))
        let lock = max(1, statement - min(1000, statement / 10))
        try session.query("SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
                          ["\(statement)ms", "\(lock)ms"])
        bound.withLock { $0.applied = remaining }
        return deadline
    }

    /// How a transaction sees the others: a snapshot per statement, or one for the whole transaction.
    public enum Isolation: String, Sendable {
        case readCommitted = "READ COMMITTED"
        /// One snapshot from the first statement on: reads that must agree with each other.
        case repeatableRead = "REPEATABLE READ"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<T: Sendable>(
        isolation: Isolation = .readCommitted, readOnly: Bool = false, _ body: (Session) throws -> T
    ) throws -> T {
        try withSession { session in
            try session.execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)" + (readOnly ? " READ ONLY" : ""))
            do {
                let value = try body(session)
                try session.execute("COMMIT")
                return value
            } catch {
                // The first error is the one to report; a failed rollback on a broken
                // connection adds nothing.
                _ = try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Begins a transaction that stays open across calls and awaits, until ``commit(after:)`` or
    /// ``rollback()``: for a job that writes part of what it will commit while it still waits on
    /// other work. Every statement on the connection meanwhile is part of it.
    public func begin(isolation: Isolation = .readCommitted) throws {
        try execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
    }

    /// Runs `body` in the transaction ``begin(isolation:)`` opened, or in a new one when none is
    /// open, and commits; rolls back when it throws.
    @discardableResult
    public func commit<T: Sendable>(after body: (Session) throws -> T) throws -> T {
        if !inTransaction { try begin() }
        do {
            return try withSession { session in
                let value = try body(session)
                try session.execute("COMMIT")
                return value
            }
        } catch {
            rollback()
            throw error
        }
    }

    /// Rolls back the open transaction, if one is open; a failure (a broken connection) is
    /// ignored, since the caller is already handling the error that brought it here.
    public func rollback() {
        // The timeouts sent in the transaction go with it: send them again.
        bound.withLock { $0.applied = nil }
        handle.withLock { raw in
            if PQtransactionStatus(raw) != PQTRANS_IDLE { _ = try? Session(raw: raw, redactor: redactor, prepared: prepared).execute("ROLLBACK") }
        }
    }

    /// Whether the connection is still good, as far as libpq knows: a connection found broken
    /// while it was used is not.
    public var isOpen: Bool {
        handle.withLock { PQstatus($0) == CONNECTION_OK }
    }

    /// Whether a transaction is open (or failed and not yet rolled back).
    public var inTransaction: Bool {
        handle.withLock { raw in
            let status = PQtransactionStatus(raw)
            return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
        }
    }

    /// Runs a statement and returns its rows. See ``Session/query(_:_:)``.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        try withSession { try $0.query(sql, parameters) }
    }

    /// ``Session/queryPrepared(_:_:)`` on its own.
    @discardableResult
    public func queryPrepared(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        try withSession { try $0.queryPrepared(sql, parameters) }
    }

    /// Runs a statement and returns the number of rows it touched.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> Int {
        try withSession { try $0.execute(sql, parameters) }
    }

    /// The server process serving this connection (for `pg_terminate_backend` and logs).
    public var backendPID: Int32 {
        handle.withLock { PQbackendPID($0) }
    }

    static func errorMessage(_ raw: OpaquePointer) -> String {
        guard let text = PQerrorMessage(raw) else { return "unknown libpq error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Receives the server's notices and warnings so they go to the logger, not to stderr.
final class NoticeSink: Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

private func noticeReceiver(_ context: UnsafeMutableRawPointer?, _ result: OpaquePointer?) {
    guard let context, let result else { return }
    let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
    let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map { String(cString: $0) } ?? "NOTICE"
    let message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? ""
    // NOTICE is chatter ("already exists, skipping"); WARNING is worth a look.
    let level: Logger.Level = severity == "WARNING" ? .warning : .debug
    sink.logger.log(level: level, "\(message)", metadata: ["severity": "\(severity)"])
}

/// Keeps passwords out of error messages: libpq echoes parts of a malformed connection string.
public struct Redactor: Sendable {
    private var secrets: [String] = []

    init(conninfo: String) {
        if let password = ProcessInfo.processInfo.environment["PGPASSWORD"] { add(password) }
        for secret in Self.passwords(in: conninfo) { add(secret) }
    }

    /// The passwords a connection string holds, as written and percent-decoded: `password=...` of
    /// a key/value string, the `user:password@` and `?password=` of a URI.
    public static func passwords(in conninfo: String) -> [String] {
        var found: [String] = []
        for pattern in [#"password\s*=\s*'((?:[^'\\]|\\.)*)'"#, #"password\s*=\s*([^\s']+)"#,
                        #"://[^:/@\s]*:([^@\s]+)@"#, #"[?&]password=([^&\s]+)"#] {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            for match in regex.matches(in: conninfo, range: NSRange(conninfo.startIndex..., in: conninfo)) {
                guard let range = Range(match.range(at: 1), in: conninfo) else { continue }
                let secret = String(conninfo[range])
                for candidate in [secret, secret.removingPercentEncoding ?? secret] where !candidate.isEmpty && !found.contains(candidate) {
                    found.append(candidate)
                }
            }
        }
        return found
    }

    mutating func add(_ secret: String) {
        if !secret.isEmpty, !secrets.contains(secret) { secrets.append(secret) }
    }

    func redact(_ text: String) -> String {
        secrets.sorted { $0.count > $1.count }.reduce(text) {
            $0.replacingOccurrences(of: $1, with: "[redacted]")
        }
    }
}
