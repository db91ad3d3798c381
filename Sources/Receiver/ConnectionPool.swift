import Foundation
import Postgres

/// A few database connections for the receiver, opened when first needed and dropped when they
/// break, so the receiver comes back by itself after the database does.
actor ConnectionPool {
    private let connect: @Sendable () throws -> Connection
    private let size: Int
    private var idle: [Connection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private let statementTimeout: Duration

    init(size: Int, statementTimeout: Duration, connect: @escaping @Sendable () throws -> Connection) {
        self.size = max(1, size)
        self.statementTimeout = statementTimeout
        self.connect = connect
    }

    /// Runs `body` with a connection, on a thread outside Swift's cooperative pool (libpq blocks).
    /// A connection that failed is closed rather than handed out again.
    ///
    /// A connection that sat idle may have been ended meanwhile (PostgreSQL restarted, failed
    /// over, or an administrator ended it): when one fails so, the idle ones beside it go too (a
    /// restart ends them all) and `body` runs once more on a new connection, rather than answer
    /// 503 for a database that is back. `body` must be safe to run twice: the receiver's
    /// statements are (`ON CONFLICT DO NOTHING`, a ping; a rejected body may be kept twice).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        var retried = false
        while true {
            let (connection, reused) = try await take()
            let timeout = statementTimeout
            do {
                let value = try await Blocking.run {
                    // Every use is bounded from the moment it gets a thread: a blocked store answers 503.
                    connection.setDeadline(.now + timeout)
                    return try body(connection)
                }
                give(connection)
                return value
            } catch let error as PostgresError where error.isConnectionFailure {
                drop()
                guard reused, !retried else { throw error }
                dropIdle()
                retried = true
            } catch {
                give(connection)
                throw error
            }
        }
    }

    /// An idle connection (`reused`), or a new one.
    private func take() async throws -> (Connection, reused: Bool) {
        while idle.isEmpty, open >= size { await withCheckedContinuation { waiters.append($0) } }
        if let connection = idle.popLast() { return (connection, true) }
        open += 1
        do {
            return (try await Blocking.run(connect), false)
        } catch {
            drop()
            throw error
        }
    }

    private func give(_ connection: Connection) {
        idle.append(connection)
        wake()
    }

    private func drop() {
        open -= 1
        wake()
    }

    private func dropIdle() {
        for _ in idle { drop() }
        idle.removeAll()
    }

    private func wake() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}
