import EventStore
import Foundation
import Postgres
import Testing
import TestSupport

@Suite struct MigratorTests {
    let connection: Connection

    init() throws {
        connection = try TestPostgres.makeDatabase("migrate").connect()
    }

    @Test func appliesOnAnEmptyDatabaseThenIsANoOp() throws {
        let migrator = Migrator(schema: "dreamclass")
        let first = try migrator.migrate(connection)
        #expect(first == Migration.bundled.map(\.version))
        #expect(!first.isEmpty)
        let tables = try connection.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", ["dreamclass"]
        ).rows.map { try $0.decode(String.self, at: 0) }
        #expect(tables.contains("webhook_events"))
        #expect(tables.contains("rejected_events"))
        #expect(tables.contains("schema_migrations"))

        #expect(try migrator.migrate(connection) == [])
        #expect(try migrator.isUpToDate(connection))
    }

    @Test func refusesWhenAnAppliedFileHasChanged() throws {
        let original = [Migration(version: 1, name: "001_one.sql", sql: "CREATE TABLE one (id int);")]
        try Migrator(schema: "edited", migrations: original).migrate(connection)
        let edited = [Migration(version: 1, name: "001_one.sql", sql: "CREATE TABLE one (id bigint);")]
        let error = #expect(throws: MigrationError.self) {
            try Migrator(schema: "edited", migrations: edited).migrate(connection)
        }
        #expect(error?.description.contains("001_one.sql") == true)
        #expect(error?.description.contains("changed") == true)
    }

    @Test func aFailingFileIsRolledBackWhole() throws {
        let migrations = [
            Migration(version: 1, name: "001_ok.sql", sql: "CREATE TABLE ok (id int);"),
            Migration(version: 2, name: "002_bad.sql", sql: "CREATE TABLE half (id int); SELECT no_such_function();"),
        ]
        #expect(throws: MigrationError.self) { try Migrator(schema: "failing", migrations: migrations).migrate(connection) }
        let exists = try connection.query("SELECT to_regclass('failing.half') IS NOT NULL, to_regclass('failing.ok') IS NOT NULL").first
        #expect(try exists?.decode(Bool.self, at: 0) == false)
        #expect(try exists?.decode(Bool.self, at: 1) == true)
        #expect(try Migrator(schema: "failing", migrations: migrations).appliedVersions(connection).keys.sorted() == [1])
    }

    /// The conversion builds its index CONCURRENTLY while it holds the migration lock, and such a
    /// build waits for every older snapshot: a second migration that waited for the lock inside a
    /// statement (holding one) deadlocked with it. It was a random failure of the test below.
    @Test func aMigrationWaitingForTheLockHoldsNoSnapshotAConcurrentIndexBuildWaitsFor() async throws {
        let database = try TestPostgres.makeDatabase("lock-wait")
        let holder = try database.connect()
        try holder.execute("CREATE TABLE other (id int)")
        let key = "dreamclass-reconcile:migrate:dreamclass"
        try holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", [key])
        let capture = LogCapture()
        let waiting = Task { try await Blocking.run { try Migrator(schema: "dreamclass", logger: capture.logger()).migrate(try database.connect()) } }
        // Until the second migration waits: it says so (or, waiting inside a statement, shows in pg_locks).
        func waits() throws -> Bool {
            try capture.messages.contains { $0.contains("waiting for another migration") }
                || holder.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").first?.decode(Int.self, at: 0) == 1
        }
        while try !waits() { try await Task.sleep(for: .milliseconds(10)) }
        // What the lock's holder does in a conversion: ends only when no older snapshot is left.
        try await Blocking.run { try holder.execute("CREATE INDEX CONCURRENTLY other_id ON other (id)") }
        try holder.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [key])
        #expect(try await waiting.value.count == Migration.bundled.count)
    }

    /// Another migration that holds the lock longer than `lockWait` (a conversion of a large
    /// store): the waiting one gives up, says why, and has applied nothing.
    @Test func aMigrationWaitsForAnotherOnlyAsLongAsItsLockWait() throws {
        let database = try TestPostgres.makeDatabase("lock-busy")
        let holder = try database.connect()
        try holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", ["dreamclass-reconcile:migrate:dreamclass"])
        var migrator = Migrator(schema: "dreamclass")
        migrator.lockWait = .milliseconds(300)
        let waiting = try database.connect()
        let error = #expect(throws: MigrationError.self) { try migrator.migrate(waiting) }
        #expect(error?.description.contains(#"another migration of schema "dreamclass" held its lock"#) == true)
        #expect(error?.description.contains("try again later") == true)
        #expect(try waiting.query("SELECT to_regclass('dreamclass.schema_migrations') IS NULL").first?.decode(Bool.self, at: 0) == true)
        try holder.execute("SELECT pg_advisory_unlock_all()")
        #expect(try migrator.migrate(waiting) == Migration.bundled.map(\.version))
    }

    @Test func twoProcessesMigratingAtOnceApplyEachFileOnce() async throws {
        let database = try TestPostgres.makeDatabase("concurrent")
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask { try Migrator(schema: "dreamclass").migrate(try database.connect()) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.sorted() == Migration.bundled.map(\.version))
    }

    @Test func aSchemaNameWithQuotesAndSemicolonsIsJustAName() throws {
        let schema = #"school"; DROP SCHEMA public; --"#
        try Migrator(schema: schema).migrate(connection)
        let found = try connection.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", [schema])
        #expect(try found.first?.decode(Int.self, at: 0) ?? 0 >= 3)
        #expect(try connection.query("SELECT to_regnamespace('public') IS NOT NULL").first?.decode(Bool.self, at: 0) == true)
    }
}
