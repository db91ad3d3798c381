import Postgres

/// One reconciliation per tenant at a time: a PostgreSQL advisory lock, held by a connection of
/// its own for as long as the run lasts. The server drops it when that connection ends, however
/// the process ends.
public final class RunLock: Sendable {
    private let connection: Connection
    private let key: String

    /// Takes the lock, or returns `nil` at once when another run holds it.
    public static func acquire(schema: String, tenant: String, connection: Connection) throws -> RunLock? {
        let key = "dreamclass-reconcile:run:\(schema):\(tenant)"
        let taken = try connection.query("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [key]).first?.decode(Bool.self, at: 0)
        return taken == true ? RunLock(connection: connection, key: key) : nil
    }

    private init(connection: Connection, key: String) {
        self.connection = connection
        self.key = key
    }

    /// Gives the lock up; the lock also ends with its connection.
    public func release() {
        _ = try? connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key])
    }
}
