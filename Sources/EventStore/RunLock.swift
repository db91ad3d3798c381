import Postgres

/// One reconciliation per tenant at a time: a PostgreSQL advisory lock, held by a connection of
/// its own for as long as the run lasts. The server drops it when that connection ends, however
/// the process ends.
public final class RunLock: Sendable {
    private let connection: Connection
    private let key: String
    /// The lock's key as PostgreSQL keeps it, and the session holding it: what
    /// ``stillHeld(on:)`` looks for in `pg_locks`.
    private let lockID: Int64
    private let holder: Int32

    /// Takes the lock, or returns `nil` at once when another run holds it.
    public static func acquire(schema: String, tenant: String, connection: Connection) throws -> RunLock? {
        let key = "dreamclass-reconcile:run:\(schema):\(tenant)"
        guard let row = try connection.query(
            "SELECT pg_try_advisory_lock(id), id, pg_backend_pid() FROM (SELECT hashtextextended($1, 0) AS id) AS lock", [key]
        ).first, try row.decode(Bool.self, at: 0) else { return nil }
        return RunLock(connection: connection, key: key, lockID: try row.decode(at: 1), holder: try row.decode(at: 2))
    }

    private init(connection: Connection, key: String, lockID: Int64, holder: Int32) {
        self.connection = connection
        self.key = key
        self.lockID = lockID
        self.holder = holder
    }

    /// Whether the lock's session still holds it, asked on another session (the run's own, in
    /// the transaction that records the run). The lock's connection can end alone (a network cut,
    /// a terminated backend) while the run goes on: the lock is then free, and another worker may
    /// already be running the same school.
    public func stillHeld(on session: Session) throws -> Bool {
        // An advisory lock on a bigint key shows as its high 32 bits in classid, its low ones in objid.
        try session.query("""
            SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1 AND objsubid = 1
                AND ((classid::bigint << 32) | objid::bigint) = $2)
            """, [holder, lockID]).first?.decode(Bool.self, at: 0) ?? false
    }

    /// Whether `connection`'s session holds no advisory lock: a lock connection fit to be used
    /// for another school's run. `false` (or an error) when in doubt.
    public static func holdsNone(on connection: Connection) throws -> Bool {
        try connection.query(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory')"
        ).first?.decode(Bool.self, at: 0) ?? false
    }

    /// Gives the lock up; the lock also ends with its connection.
    public func release() {
        _ = try? connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key])
    }
}

/// The run's lock ended before the run was recorded (its connection broke, or its backend was
/// terminated): another run of the tenant may have started meanwhile, so this one records
/// nothing of what it found.
public struct RunLockLost: Error, Sendable, CustomStringConvertible {
    public var tenant: String
    public var runID: Int64

    public var description: String {
        "run \(runID) of tenant \"\(tenant)\" lost its lock (the lock's database connection ended) before it was recorded; "
            + "another run may hold the school now, so this run's drift and fold state were not recorded. Run it again"
    }
}
