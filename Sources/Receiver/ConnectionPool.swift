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
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let connection = try await take()
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
            throw error
        } catch {
            give(connection)
            throw error
        }
    }

    private func take() async throws -> Connection {
        while idle.isEmpty, open >= size { await withCheckedContinuation { waiters.append($0) } }
        if let connection = idle.popLast() { return connection }
        open += 1
        do {
            return try await Blocking.run(connect)
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

    private func wake() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}
