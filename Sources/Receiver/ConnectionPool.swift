import Foundation
import Postgres

/// A few database connections for the receiver, opened when first needed and dropped when they
/// break, so the receiver comes back by itself after the database does.
actor ConnectionPool {
    private let connect: @Sendable () throws -> Connection
    private let size: Int
    private var idle: [Connection] = []
    private var open = 0
    /// Who waits for a connection, first come first served, and until when.
    private var waiters: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Bool, Never>)] = []
    /// Ends the waits whose deadline passed: one task for the pool, running only while some wait
    /// (a timer task for each wait cost 2–3 % of the receiver's requests/s, 16 clients on 4
    /// connections, where nearly every request waits a moment).
    private var sweeper: Task<Void, Never>?

    private let timeout: Duration

    /// `timeout` bounds each use whole: the wait for a free connection, the statements, a retry.
    init(size: Int, timeout: Duration, connect: @escaping @Sendable () throws -> Connection) {
        self.size = max(1, size)
        self.timeout = timeout
        self.connect = connect
    }

    /// Runs `body` with a connection, on a thread outside Swift's cooperative pool (libpq blocks).
    /// A connection that failed is closed rather than handed out again.
    ///
    /// The whole use ends by one deadline, `timeout` after the call: a request queued behind
    /// others that wait on a lock is answered when its own time is up, not after theirs (with
    /// every connection stuck, the tenth request in line would otherwise wait ten timeouts, past
    /// DreamClass's patience). Running out of time throws a ``PostgresError`` of kind `.timeout`.
    ///
    /// A connection that sat idle may have been ended meanwhile (PostgreSQL restarted, failed
    /// over, or an administrator ended it): when one fails so, the idle ones beside it go too (a
    /// restart ends them all) and `body` runs once more on a new connection, rather than answer
    /// 503 for a database that is back. `body` must be safe to run twice: the receiver's
    /// statements are (`ON CONFLICT DO NOTHING`, a ping; a rejected body may be kept twice).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        var retried = false
        while true {
            let (connection, reused) = try await take(until: deadline)
            do {
                let value = try await Blocking.run {
                    connection.setDeadline(deadline)
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

    /// An idle connection (`reused`), or a new one, if one comes free before `deadline`.
    private func take(until deadline: ContinuousClock.Instant) async throws -> (Connection, reused: Bool) {
        while idle.isEmpty, open >= size {
            if sweeper == nil { sweeper = Task { await sweep() } }
            let served = await withCheckedContinuation { waiters.append((deadline, $0)) }
            guard served else {
                throw PostgresError(kind: .timeout, message: "no database connection came free within \(timeout): all \(size) are busy")
            }
        }
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
        if !waiters.isEmpty { waiters.removeFirst().continuation.resume(returning: true) }
    }

    /// Sleeps until the nearest deadline of a wait, ends the waits whose deadline has passed (the
    /// others were served meanwhile or wait on), and again, until no one waits. Deadlines come in
    /// nearly in order (each is a fixed time after its use began), so it wakes about once a timeout.
    private func sweep() async {
        while let nearest = waiters.lazy.map(\.deadline).min() {
            try? await Task.sleep(until: nearest, clock: .continuous)
            let now = ContinuousClock.now
            for waiter in waiters where waiter.deadline <= now { waiter.continuation.resume(returning: false) }
            waiters.removeAll { $0.deadline <= now }
        }
        sweeper = nil
    }
}
