import EventStore
import Logging
import Postgres
import Synchronization

/// The two connections a run uses (its own and its lock's), kept from one school's run to the
/// next in this process: a new PostgreSQL connection starts a server process, and a fleet worker
/// that opened two per school spent most of the server's time starting and ending them.
public final class RunConnections: Sendable {
    public typealias Pair = (run: Connection, lock: Connection)
    private let idle = Mutex<[Pair]>([])
    private let connect: @Sendable (Logger) throws -> Connection

    /// - Parameter connect: opens a connection to the store.
    public init(connect: @escaping @Sendable (Logger) throws -> Connection) {
        self.connect = connect
    }

    /// A kept pair, or a new one, its statements bounded by `deadline` (the school's).
    public func take(logger: Logger, deadline: ContinuousClock.Instant) async throws -> Pair {
        var kept = idle.withLock { $0.popLast() }
        if kept == nil { kept = try await Blocking.run { [connect] in (try connect(logger), try connect(logger)) } }
        let pair = kept!
        for connection in [pair.run, pair.lock] { connection.setDeadline(deadline) }
        return pair
    }

    /// Keeps `pair` for the next school, however the run ended, if it is clean: both connections
    /// open, no transaction open on the run's, no advisory lock left on the lock's (either would
    /// carry over into another school's run). Otherwise it is dropped, which closes it.
    public func give(_ pair: Pair) async {
        for connection in [pair.run, pair.lock] { connection.setDeadline(nil) }
        let clean = try? await Blocking.run {
            try pair.run.isOpen && !pair.run.inTransaction && pair.lock.isOpen && RunLock.holdsNone(on: pair.lock)
        }
        if clean == true { idle.withLock { $0.append(pair) } }
    }
}
