import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres
import PostgresServer
import Testing
import TestSupport

@Suite struct ConnectionTests {
    let database: TestDatabase
    let connection: Connection

    init() throws {
        database = try TestPostgres.makeDatabase("conn")
        connection = try database.connect()
    }

    @Test func parametersRoundTripTypedValues() throws {
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_727_862_002.901)
        let row = try #require(try connection.query(
            "SELECT $1::int8, $2::text, $3::bool, $4::uuid, $5::timestamptz, $6::float8, $7::text IS NULL",
            [Int64(42), "O'Brien; DROP TABLE x", true, id, when, 2.5, nil]
        ).first)
        let (number, text, flag, uuid, date, double, isNull) =
            try row.decode(Int64.self, String.self, Bool.self, UUID.self, Date.self, Double.self, Bool.self)
        #expect(number == 42)
        #expect(text == "O'Brien; DROP TABLE x")
        #expect(flag)
        #expect(uuid == id)
        #expect(abs(date.timeIntervalSince(when)) < 0.000_001)
        #expect(double == 2.5)
        #expect(isNull)
    }

    @Test func aTypeMismatchNamesTheColumnAndTypes() throws {
        let row = try #require(try connection.query("SELECT '12'::text AS digits, NULL::int AS nothing").first)
        let mismatch = #expect(throws: PostgresDecodingError.self) { try row.decode(Int.self, named: "digits") }
        #expect(mismatch?.description.contains("\"digits\"") == true)
        #expect(mismatch?.description.contains("text") == true)
        #expect(mismatch?.description.contains("Int") == true)
        #expect(throws: PostgresDecodingError.self) { try row.decode(Int.self, named: "nothing") }
        #expect(try row.decodeIfPresent(Int.self, named: "nothing") == nil)
    }

    @Test func aUniqueViolationCarriesItsSQLState() throws {
        try connection.execute("CREATE TABLE unique_things (id int PRIMARY KEY)")
        try connection.execute("INSERT INTO unique_things VALUES ($1)", [1])
        let error = #expect(throws: PostgresError.self) {
            try connection.execute("INSERT INTO unique_things VALUES ($1)", [1])
        }
        #expect(error?.sqlState == "23505")
        #expect(error?.kind == .server)
        #expect(error?.detail?.contains("(id)=(1)") == true)
    }

    @Test func aTransactionRollsBackWhenItsBodyThrows() throws {
        struct Boom: Error {}
        try connection.execute("CREATE TABLE tx_things (id int)")
        #expect(throws: Boom.self) {
            try connection.transaction { session in
                try session.execute("INSERT INTO tx_things VALUES (1)")
                throw Boom()
            }
        }
        try connection.transaction { session in try session.execute("INSERT INTO tx_things VALUES (2)") }
        let ids = try connection.query("SELECT id FROM tx_things").rows.map { try $0.decode(Int.self, at: 0) }
        #expect(ids == [2])
    }

    /// A transaction begun now and committed later: nobody else sees its writes until the
    /// commit; one whose last part throws, or that is rolled back, leaves nothing.
    @Test func aTransactionBegunEarlyCommitsOrRollsBackWhole() throws {
        struct Boom: Error {}
        let other = try database.connect()
        try connection.execute("CREATE TABLE open_things (id int)")
        func seen() throws -> [Int] { try other.query("SELECT id FROM open_things ORDER BY id").rows.map { try $0.decode(Int.self, at: 0) } }

        try connection.begin()
        #expect(connection.inTransaction)
        try connection.execute("INSERT INTO open_things VALUES (1)")
        #expect(try seen() == [])
        try connection.commit { try $0.execute("INSERT INTO open_things VALUES (2)") }
        #expect(!connection.inTransaction)
        #expect(try seen() == [1, 2])

        try connection.begin()
        try connection.execute("INSERT INTO open_things VALUES (3)")
        #expect(throws: Boom.self) { try connection.commit { _ in throw Boom() } }
        #expect(!connection.inTransaction)
        try connection.begin()
        try connection.execute("INSERT INTO open_things VALUES (4)")
        connection.rollback()
        connection.rollback()  // nothing open: nothing happens
        // Without an open transaction, commit(after:) makes its own.
        try connection.commit { try $0.execute("INSERT INTO open_things VALUES (5)") }
        #expect(try seen() == [1, 2, 5])
    }

    @Test func copyRoundTripsAwkwardText() throws {
        let texts = [
            "tab\there", "new\nline", "carriage\rreturn", #"back\slash \N \\N"#, "quote \" and ' both",
            "Ελληνικά, Français, 日本語, emoji 🎒", "", "trailing backslash \\",
        ]
        try connection.execute("CREATE TABLE copy_things (n int, t text, b bytea)")
        let stored = try connection.withSession { session in
            try session.copyIn("COPY copy_things (n, t, b) FROM STDIN") { writer in
                for (index, text) in texts.enumerated() {
                    try writer.row([index, text, Data(text.utf8)])
                }
                try writer.row([texts.count, nil, nil])
            }
        }
        #expect(stored == texts.count + 1)
        let rows = try connection.query("SELECT t, b FROM copy_things ORDER BY n").rows
        #expect(try rows.dropLast().map { try $0.decode(String.self, at: 0) } == texts)
        #expect(try rows.dropLast().map { String(decoding: try $0.decode(Data.self, at: 1), as: UTF8.self) } == texts)
        #expect(try rows.last?.decodeIfPresent(String.self, at: 0) == nil)
    }

    /// Numbers, booleans and UUIDs are written into COPY without a `String` each: what the
    /// server stores must be what was written, at the ends of each range too.
    @Test func copyRoundTripsNumbersBooleansAndUUIDs() throws {
        var random = SystemRandomNumberGenerator()
        let ints: [Int] = [0, 1, -1, 9, 10, -10, Int.max, Int.min] + (0..<50).map { _ in Int.random(in: .min ... .max, using: &random) }
        let uuids = ints.indices.map { index in index == 0 ? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)) : UUID() }
        try connection.execute("CREATE TABLE copy_typed (n int, i bigint, small int, u uuid, b bool)")
        try connection.withSession { session in
            try session.copyIn("COPY copy_typed (n, i, small, u, b) FROM STDIN") { writer in
                for (index, value) in ints.enumerated() {
                    try writer.row([index, Int64(value), Int32(truncatingIfNeeded: value), uuids[index], index % 2 == 0])
                }
            }
        }
        let rows = try connection.query("SELECT i, small, u, b, u::text FROM copy_typed ORDER BY n").rows
        #expect(try rows.map { try $0.decode(Int.self, at: 0) } == ints)
        #expect(try rows.map { try $0.decode(Int32.self, at: 1) } == ints.map { Int32(truncatingIfNeeded: $0) })
        #expect(try rows.map { try $0.decode(UUID.self, at: 2) } == uuids)
        #expect(try rows.map { try $0.decode(Bool.self, at: 3) } == ints.indices.map { $0 % 2 == 0 })
        #expect(try rows.map { try $0.decode(String.self, at: 4) } == uuids.map { $0.postgresText })
    }

    /// The binary format sends each value's bytes, nothing escaped: what is stored must be what
    /// the text format stores, text of every awkward kind, the ends of each number range, NULLs,
    /// and more rows than one buffer holds.
    @Test func binaryCopyStoresWhatTheTextFormatStores() throws {
        var random = SystemRandomNumberGenerator()
        let texts = [
            "tab\there", "new\nline", "carriage\rreturn", #"back\slash \N \\N"#, "quote \" and ' both",
            "Ελληνικά, Français, 日本語, emoji 🎒", "", "trailing backslash \\", String(repeating: "long ", count: 20_000),
        ]
        let ints: [Int] = [0, 1, -1, 255, 256, Int.max, Int.min] + (0..<3_000).map { _ in Int.random(in: .min ... .max, using: &random) }
        let rows: [[(any PostgresBinaryEncodable)?]] = ints.enumerated().map { index, value in
            [index, Int64(value), index % 3 == 0 ? nil : UUID(), index % 2 == 0, index % 5 == 4 ? nil : texts[index % texts.count]]
        }
        for table in ["copy_as_text", "copy_as_binary"] {
            try connection.execute("CREATE TABLE \(table) (n bigint, i bigint, u uuid, b bool, t text)")
        }
        let (text, binary) = try connection.withSession { session in
            (try session.copyIn("COPY copy_as_text (n, i, u, b, t) FROM STDIN") { writer in for row in rows { try writer.row(row) } },
             try session.copyInBinary("COPY copy_as_binary (n, i, u, b, t) FROM STDIN") { writer in for row in rows { try writer.row(row) } })
        }
        #expect(text == rows.count && binary == rows.count)
        let differing = "SELECT count(*) FROM ((TABLE copy_as_text EXCEPT TABLE copy_as_binary) UNION ALL (TABLE copy_as_binary EXCEPT TABLE copy_as_text)) d"
        #expect(try connection.query(differing).first?.decode(Int.self, at: 0) == 0)
        #expect(try connection.query("SELECT i FROM copy_as_binary ORDER BY n").rows.map { try $0.decode(Int.self, at: 0) } == ints)
        let nulls = try connection.query("SELECT count(*) FILTER (WHERE u IS NULL), count(*) FILTER (WHERE t IS NULL) FROM copy_as_binary").first
        #expect(try nulls?.decode(Int.self, at: 0) == rows.indices.filter { $0 % 3 == 0 }.count)
        #expect(try nulls?.decode(Int.self, at: 1) == rows.indices.filter { $0 % 5 == 4 }.count)
    }

    /// A binary value must have its column's exact type: an `int8` sent to an `int4` column is
    /// refused by the server, with its SQLSTATE, and nothing of the COPY is stored.
    @Test func aBinaryValueOfAnotherWidthIsRefusedAndNothingIsStored() throws {
        try connection.execute("CREATE TABLE copy_narrow (n int)")
        let error = #expect(throws: PostgresError.self) {
            try connection.withSession { session in
                try session.copyInBinary("COPY copy_narrow (n) FROM STDIN") { writer in try writer.row([1]) }
            }
        }
        #expect(error?.sqlState == "22P03")
        #expect(try connection.query("SELECT count(*) FROM copy_narrow").first?.decode(Int.self, at: 0) == 0)
    }

    @Test func aCopyWhoseBodyThrowsStoresNothing() throws {
        struct Boom: Error {}
        try connection.execute("CREATE TABLE copy_aborted (n int)")
        #expect(throws: Boom.self) {
            try connection.withSession { session in
                try session.copyIn("COPY copy_aborted FROM STDIN") { writer in
                    try writer.row([1])
                    throw Boom()
                }
            }
        }
        #expect(try connection.query("SELECT count(*) FROM copy_aborted").first?.decode(Int.self, at: 0) == 0)
    }

    @Test func aLargeResultArrivesAsAStream() throws {
        let total = 300_000
        var count = 0
        var sum = 0
        try connection.withSession { session in
            try session.stream("SELECT g FROM generate_series(1, $1::int) g", [total]) { row in
                count += 1
                sum += try row.decode(Int.self, at: 0)
            }
        }
        #expect(count == total)
        #expect(sum == total * (total + 1) / 2)
    }

    @Test func stoppingAStreamEarlyLeavesTheConnectionUsable() throws {
        struct Enough: Error {}
        var seen = 0
        #expect(throws: Enough.self) {
            try connection.withSession { session in
                try session.stream("SELECT g FROM generate_series(1, 5000000) g") { _ in
                    seen += 1
                    if seen == 10 { throw Enough() }
                }
            }
        }
        #expect(seen == 10)
        #expect(try connection.query("SELECT 1").first?.decode(Int.self, at: 0) == 1)
    }

    @Test func aPreparedStatementRunsAgainWithNewValuesAfterARollbackAndATableChange() throws {
        try connection.execute("CREATE TABLE prepared_items (id int PRIMARY KEY, name text)")
        let insert = "INSERT INTO prepared_items (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id"
        #expect(try connection.queryPrepared(insert, [1, "one"]).count == 1)
        #expect(try connection.queryPrepared(insert, [1, "again"]).count == 0)
        struct Undo: Error {}
        #expect(throws: Undo.self) {
            try connection.transaction { session in
                #expect(try session.queryPrepared(insert, [2, "two"]).count == 1)
                throw Undo()
            }
        }
        // The table changes under the prepared statement: PostgreSQL plans it again.
        try connection.execute("ALTER TABLE prepared_items ADD COLUMN note text")
        #expect(try connection.queryPrepared(insert, [3, "three"]).count == 1)
        #expect(throws: PostgresError.self) { try connection.queryPrepared(insert, ["not a number", "x"]) }
        #expect(try connection.queryPrepared(insert, [4, "four"]).count == 1)
        let names = try connection.query("SELECT string_agg(name, ',' ORDER BY id) FROM prepared_items").first?.decode(String.self, at: 0)
        #expect(names == "one,three,four")
    }

    @Test func numbersAndBooleansAreReadFromTheirBytesAndBadTextIsStillAnError() throws {
        let row = try #require(try connection.query("SELECT $1::int8, $2::int8, $3::int4, $4::bool, $5::bool, $6::int8, 'x'::text", [
            Int64.max, Int64.min, Int32(-2_147_483_648), true, false, Int64(0),
        ]).first)
        #expect(try row.decode(Int64.self, at: 0) == .max)
        #expect(try row.decode(Int64.self, at: 1) == .min)
        #expect(try row.decode(Int32.self, at: 2) == .min)
        #expect(try row.decode(Int.self, at: 2) == -2_147_483_648)
        #expect(try row.decode(Bool.self, at: 3) == true && row.decode(Bool.self, at: 4) == false)
        #expect(try row.decode(Int.self, at: 5) == 0)
        // An int8 asked for as an Int32 is a decoding error, never a wrapped number.
        #expect(throws: PostgresDecodingError.self) { try row.decode(Int32.self, at: 0) }
        // A numeric is not read as an integer, even when it has no fraction.
        let numeric = try #require(try connection.query("SELECT 1.5::numeric, '99999999999999999999'::numeric").first)
        #expect(throws: PostgresDecodingError.self) { try numeric.decode(Int.self, at: 0) }
        #expect(try numeric.decode(Double.self, at: 1) == 1e20)
    }

    @Test func serverNoticesGoToTheLogger() throws {
        let capture = LogCapture()
        let noisy = try database.connect(logger: capture.logger())
        try noisy.execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; RAISE WARNING 'careful'; END $$")
        #expect(capture.messages.contains { $0.contains("debug hello from the server") })
        #expect(capture.messages.contains { $0.contains("warning careful") })
    }

    @Test func aFailedLoginDoesNotShowThePassword() throws {
        let server = try TestPostgres.shared()
        let password = "s3cret-Pa55-\(UUID().uuidString.prefix(6))"
        try connection.execute("DO $$ BEGIN CREATE ROLE app_login LOGIN PASSWORD 'right-one'; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        let keyValue = #expect(throws: PostgresError.self) {
            try Connection(conninfo: server.conninfo(database: database.name, user: "app_login", password: password))
        }
        #expect(keyValue?.kind == .connection)
        #expect(keyValue?.message.contains("password authentication failed") == true)
        #expect(keyValue.map { !"\($0)".contains(password) } == true)

        // A malformed string makes libpq echo what it could not parse.
        let malformed = #expect(throws: PostgresError.self) {
            try Connection(conninfo: "host=\(server.directory) password=\(password) oops")
        }
        #expect(malformed.map { !"\($0)".contains(password) } == true)

        let uri = #expect(throws: PostgresError.self) {
            try Connection(conninfo: "postgresql://app_login:\(password)@/\(database.name)?host=\(server.directory)")
        }
        #expect(uri.map { !"\($0)".contains(password) } == true)
    }

    @Test func databaseURLIsReadFromTheEnvironment() throws {
        let server = try TestPostgres.shared()
        let url = "postgresql://\(server.superuser)@/\(database.name)?host=\(server.directory)"
        let viaURL = try Connection(environment: ["DATABASE_URL": url])
        #expect(try viaURL.query("SELECT current_database()").first?.decode(String.self, at: 0) == database.name)
    }
}

/// A server started while this process holds sockets holds none of them: a client of an
/// in-process receiver must see the receiver's close, whatever servers started meanwhile.
@Suite struct InheritedDescriptorTests {
    @Test func aServerStartedNowKeepsNoneOfThisProcesssDescriptors() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let server = try TemporaryPostgresServer()
        defer { server.stop() }
        // This process lets go of one end: the other reads the end of the stream at once, unless a
        // child (the server, its watchdog) kept a copy of it.
        close(pair[0])
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let read = recv(pair[1], &byte, 1, 0)
        close(pair[1])
        #expect(read == 0, "the other end stayed open: a child inherited it (recv returned \(read), errno \(errno))")
    }
}
