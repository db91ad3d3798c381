import Foundation
import Logging
import Postgres
import PostgresServer
import Synchronization

/// The throwaway PostgreSQL server of this test process, and a database of its own per suite.
public enum TestPostgres {
    /// The server, started on first use. A server that cannot start is an error for every test
    /// that needs it, never a skip.
    public static func shared() throws -> TemporaryPostgresServer {
        TestLogging.bootstrap()
        return try started.get()
    }

    private static let started = Result { try TemporaryPostgresServer() }
    private static let quietServer = Result { try TemporaryPostgresServer() }
    private static let counter = Mutex(0)

    /// A new, empty database, so suites running at the same time share nothing.
    ///
    /// - Parameter quiet: on a second server that no run of another suite uses, for a suite whose
    ///   assertions depend on the server's oldest open transaction (the fold's horizon), which any
    ///   open transaction of any database holds back. Such a suite runs its tests one at a time.
    public static func makeDatabase(_ label: String = "test", quiet: Bool = false) throws -> TestDatabase {
        TestLogging.bootstrap()
        let server = try quiet ? quietServer.get() : shared()
        let number = counter.withLock { value in
            value += 1
            return value
        }
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(number)"
        try Connection(conninfo: server.conninfo()).execute("CREATE DATABASE \(quoteIdentifier(name))")
        return TestDatabase(server: server, name: name)
    }
}

/// A database of the test server, owned by one suite.
public struct TestDatabase: Sendable {
    public let server: TemporaryPostgresServer
    public let name: String

    public var conninfo: String { server.conninfo(database: name) }

    public func connect(logger: Logger = Logger(label: "test")) throws -> Connection {
        try Connection(conninfo: conninfo, logger: logger)
    }
}
