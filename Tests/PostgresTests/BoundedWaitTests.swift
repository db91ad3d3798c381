import Foundation
import Postgres
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// No wait on PostgreSQL is without end: a server that never answers a connect, a statement
/// blocked by another session's lock, a deadline already gone. Each wait runs on `Blocking`'s
/// threads, never on Swift's few cooperative ones: the other suites' in-process servers need those.
@Suite struct BoundedWaitTests {
    /// libpq would wait for ever on a server that accepted the connection and says nothing; the
    /// wrapper's default `connect_timeout` (10 s) ends it, and a key of the caller's string wins.
    @Test(arguments: [nil, "2"])
    func aServerThatNeverAnswersEndsTheConnect(connectTimeout: String?) async throws {
        let (descriptor, port) = try FreePort.silentListener()
        defer { close(descriptor) }
        let conninfo = "host=127.0.0.1 port=\(port) dbname=x user=x" + (connectTimeout.map { " connect_timeout=\($0)" } ?? "")
        let started = ContinuousClock.now
        let result = await Result { try await Blocking.run { _ = try Connection(conninfo: conninfo) } }
        let error = try #require(result.failure as? PostgresError, "\(result)")
        #expect(error.kind == .connection)
        #expect(error.message.contains("timeout expired"), "\(error.message)")
        // Not a timed assertion of speed: only that the wait ended, and not before the timeout.
        #expect(ContinuousClock.now - started >= .seconds(connectTimeout == nil ? 9 : 1))
    }

    @Test func aStatementBlockedByALockEndsByTheDeadlineAndNamesTheLock() async throws {
        let database = try TestPostgres.makeDatabase("bounded")
        let setup = try database.connect()
        try setup.execute("CREATE TABLE held (id int)")
        let holder = try database.connect()
        try holder.begin()
        try holder.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        let waiter = try database.connect()
        waiter.setDeadline(.now + .seconds(2))
        let blocked = await Result { try await Blocking.run { _ = try waiter.query("SELECT count(*) FROM held") } }
        let error = try #require(blocked.failure as? PostgresError, "\(blocked)")
        #expect(error.isTimeout)
        #expect(error.description.contains("waited for a lock until the deadline"), "\(error.description)")
        // The deadline has passed: nothing more is sent, and the error says so.
        try await Task.sleep(for: .milliseconds(2_100))
        let late = #expect(throws: PostgresError.self) { try waiter.query("SELECT 1") }
        #expect(late?.isTimeout == true)
        // A grace lets the statements that record a failure run; without a deadline, the
        // connection's own timeouts come back.
        // The grace is sent even when the last timeouts sent were short and no error forgot them.
        waiter.setDeadline(.now + .milliseconds(1_500))
        _ = try await Blocking.run { try waiter.query("SELECT 1") }
        try await Task.sleep(for: .milliseconds(1_600))
        waiter.extendDeadline(by: .seconds(5))
        let granted = try waiter.query("SELECT extract(epoch FROM current_setting('statement_timeout')::interval)::float8").first?.decode(Double.self, at: 0)
        #expect((granted ?? 0) > 4, "statement_timeout after a 5 s grace: \(granted ?? 0) s")
        waiter.setDeadline(nil)
        #expect(try waiter.query("SELECT current_setting('statement_timeout')").first?.decode(String.self, at: 0) == "0")
        holder.rollback()
        #expect(try waiter.query("SELECT count(*) FROM held").first?.decode(Int.self, at: 0) == 0)
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing body.
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }

    var failure: (any Error)? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
