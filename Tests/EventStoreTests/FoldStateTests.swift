import EventStore
import Foundation
import Models
import Postgres
import Reconciliation
import TestSupport
import Testing

/// The kept fold and its horizon, against a real PostgreSQL: an incremental read equals a full
/// one whatever commits late, and the kept state equals a full refold's byte for byte. On a server
/// of their own, one at a time: what a fold reads again depends on the oldest open transaction.
@Suite(.serialized) struct FoldStateTests {
    static let tenant = "fold-school"

    static func body(_ kind: LocalEvent.Kind, enrollment: Int, millis: Int64, active: Bool, id: UUID) -> String {
        #"{"id":"\#(id.uuidString.lowercased())","type":"\#(kind.eventType)","tenant":"\#(tenant)","timestamp":\#(millis),"#
            + #""data":{"id":\#(enrollment),"studentId":\#(enrollment + 100),"active":\#(active),"addedAt":"2026-09-02T08:00:00.000Z"}}"#
    }

    /// An event stored in a transaction of its own that the caller commits (or not) later.
    static func openInsert(_ connection: Connection, _ kind: LocalEvent.Kind, enrollment: Int, millis: Int64, active: Bool, id: UUID) throws {
        try connection.execute("BEGIN")
        let body = body(kind, enrollment: enrollment, millis: millis, active: active, id: id)
        // As every writer stores it: the body, and the fold's fields typed beside it.
        try connection.execute("""
            INSERT INTO dreamclass.webhook_events (event_id, tenant, event_type, event_time, body, student_period_id, student_id, active, added_at)
            VALUES ($1, $2, $3, to_timestamp($4::double precision / 1000), $5, $6, $7, $8, $9)
            """, [id, tenant, kind.eventType, millis, body, enrollment, kind == .deleted ? nil : enrollment + 100, kind == .deleted ? nil : active,
                  kind == .deleted ? nil : Timestamp.parse("2026-09-02T08:00:00.000Z")])
    }

    /// One run's part: read (incremental unless `refold`) and keep the fold, as `finish` does.
    static func keep(_ connection: Connection, refold: Bool = false) throws -> LocalEventReader.Outcome {
        let outcome = try LocalEventReader(schema: "dreamclass").read(tenant: tenant, from: connection, refold: refold)
        try connection.transaction { session in
            try FoldStateStore(schema: "dreamclass").save(outcome.update(tenant: tenant), runID: nil, on: session)
        }
        return outcome
    }

    static func dump(_ connection: Connection) throws -> String {
        try connection.query("""
            SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', student_period_id, event_id, kind, event_millis, student_id, active, added_at),
                              E'\\n' ORDER BY student_period_id)
            FROM dreamclass.enrollment_states WHERE tenant = $1
            """, [tenant]).first?.decodeIfPresent(String.self, at: 0) ?? ""
    }

    @Test func anInsertCommittedAfterARunIsFoldedByTheNext() throws {
        let (database, connection) = try TestPostgres.makeStore("fold-late", quiet: true)
        try connection.ingest([Self.body(.created, enrollment: 1, millis: 1_000, active: true, id: UUID())])
        let first = try Self.keep(connection)
        #expect(first.previousHorizon == nil)
        #expect(first.fold.states[1]?.record?.active == true)

        // A receiver's transaction takes its id now, stores an update, and commits only after the next run.
        let late = try database.connect()
        let lateID = UUID()
        try Self.openInsert(late, .updated, enrollment: 1, millis: 2_000, active: false, id: lateID)
        // Meanwhile other events come and commit (their seq is higher than the late one's).
        try connection.ingest([Self.body(.created, enrollment: 2, millis: 1_500, active: true, id: UUID())])
        let second = try Self.keep(connection)
        #expect(second.previousHorizon != nil)
        #expect(second.fold.states[2] != nil)
        #expect(second.fold.states[1]?.record?.active == true, "the late update is not visible yet")

        try late.execute("COMMIT")
        let third = try Self.keep(connection)
        #expect(third.fold.states[1]?.lastEvent.eventID == lateID, "the late update is folded, not skipped")
        #expect(third.fold.states[1]?.record?.active == false)
        #expect(third.eventsRead < 3, "only what is above the horizon is read again")
    }

    @Test(arguments: 1...8 as ClosedRange<UInt64>)
    func incrementalReadsEqualAFullRefoldWhateverCommitsLate(seed: UInt64) throws {
        let (database, connection) = try TestPostgres.makeStore("fold-fuzz-\(seed)", quiet: true)
        let late = try database.connect()
        var random = SeededRandom(seed: seed)
        var open = false
        for _ in 0..<6 {
            // Maybe leave an insert open across this round's read; commit or roll it back next round.
            if open {
                try late.execute(Bool.random(using: &random) ? "COMMIT" : "ROLLBACK")
                open = false
            }
            if Bool.random(using: &random) {
                try Self.openInsert(late, .allCases.randomElement(using: &random)!, enrollment: Int.random(in: 1...15, using: &random),
                                    millis: Int64.random(in: 1...40, using: &random), active: Bool.random(using: &random), id: UUID(random: &random))
                open = true
            }
            let lines = (0..<Int.random(in: 0...25, using: &random)).map { _ in
                Self.body(.allCases.randomElement(using: &random)!, enrollment: Int.random(in: 1...15, using: &random),
                          millis: Int64.random(in: 1...40, using: &random), active: Bool.random(using: &random), id: UUID(random: &random))
            }
            if !lines.isEmpty { try connection.ingest(lines) }
            let incremental = try Self.keep(connection)
            let full = try LocalEventReader(schema: "dreamclass").read(tenant: Self.tenant, from: connection, refold: true)
            #expect(incremental.fold.states == full.fold.states)
        }
        if open { try late.execute("COMMIT") }
        _ = try Self.keep(connection)
        let kept = try Self.dump(connection)
        _ = try Self.keep(connection, refold: true)
        #expect(try Self.dump(connection) == kept)
        #expect(!kept.isEmpty)
    }

    @Test func aStoreUpgradedWithEventsInItBuildsTheStateOnTheFirstRun() throws {
        let database = try TestPostgres.makeDatabase("fold-upgrade", quiet: true)
        let connection = try database.connect()
        // A store as the release before the incremental fold left it, with events.
        try Migrator(schema: "dreamclass", migrations: Migration.bundled.filter { $0.version < 6 }).migrate(connection)
        try connection.storeAsBeforeTypedColumns((1...5).map { Self.body(.created, enrollment: $0, millis: 1_000, active: true, id: UUID()) })
        try Migrator(schema: "dreamclass").migrate(connection)

        let first = try Self.keep(connection)
        #expect(first.previousHorizon == nil, "no kept state yet: every event is folded")
        #expect(first.fold.states.count == 5)
        try connection.ingest([Self.body(.deleted, enrollment: 3, millis: 2_000, active: true, id: UUID())])
        let next = try Self.keep(connection)
        #expect(next.previousHorizon != nil)
        #expect(next.eventsRead == 1, "the events from before the upgrade are not read again")
        #expect(next.fold.states.count == 5)
        #expect(next.fold.states[3]?.isDeleted == true)
    }

    @Test func pruneRemovesOnlyFoldedLosersAndTheStateStaysTheSame() throws {
        let (_, connection) = try TestPostgres.makeStore("fold-prune", quiet: true)
        let (created, updated, other) = (UUID(), UUID(), UUID())
        try connection.ingest([
            Self.body(.created, enrollment: 1, millis: 1_000, active: true, id: created),
            Self.body(.updated, enrollment: 1, millis: 2_000, active: false, id: updated),
            Self.body(.created, enrollment: 2, millis: 1_000, active: true, id: other),
        ])
        let retention = EventRetention(schema: "dreamclass")
        let later = Date().addingTimeInterval(3_600)
        #expect(try retention.prune(storedBefore: later, dryRun: true, on: connection).isEmpty, "nothing is pruned before a run folded it")
        _ = try Self.keep(connection)
        // Stored after the run: above the horizon, so never pruned, even though it loses.
        let unfolded = UUID()
        try connection.ingest([Self.body(.created, enrollment: 1, millis: 500, active: true, id: unfolded)])

        #expect(try retention.prune(storedBefore: Date().addingTimeInterval(-3_600), dryRun: true, on: connection).isEmpty, "younger than the window")
        #expect(try retention.prune(storedBefore: later, dryRun: true, on: connection) == [Self.tenant: 1])
        #expect(try retention.prune(storedBefore: later, dryRun: false, on: connection) == [Self.tenant: 1])
        let left = Set(try connection.query("SELECT event_id FROM dreamclass.webhook_events").rows.map { try $0.decode(UUID.self, at: 0) })
        #expect(left == [updated, other, unfolded])

        _ = try Self.keep(connection)
        let kept = try Self.dump(connection)
        _ = try Self.keep(connection, refold: true)
        #expect(try Self.dump(connection) == kept)
        #expect(kept.contains(updated.uuidString.lowercased()))
    }

    /// What the fold could not use stays, by the fold's own verdict: a `data.id` of 203.0 (a JSON
    /// number PostgreSQL equals to 203, but not an integer), a create without its student.
    @Test func pruneKeepsTheEventsTheFoldCouldNotUse() throws {
        let (_, connection) = try TestPostgres.makeStore("fold-prune-unusable", quiet: true)
        let (winner, fraction, noStudent, loser) = (UUID(), UUID(), UUID(), UUID())
        let fractionBody = Self.body(.created, enrollment: 203, millis: 1_000, active: true, id: fraction).replacingOccurrences(of: #""id":203,"#, with: #""id":203.5,"#)
        let noStudentBody = Self.body(.created, enrollment: 203, millis: 1_500, active: true, id: noStudent).replacingOccurrences(of: #""studentId":303,"#, with: "")
        try connection.ingest([
            Self.body(.updated, enrollment: 203, millis: 3_000, active: false, id: winner), fractionBody, noStudentBody,
            Self.body(.created, enrollment: 203, millis: 2_000, active: true, id: loser),
        ])
        let folded = try Self.keep(connection)
        #expect(Set(folded.unusable.map(\.eventID)) == [fraction, noStudent])
        let removed = try EventRetention(schema: "dreamclass").prune(storedBefore: Date().addingTimeInterval(3_600), dryRun: false, on: connection)
        #expect(removed == [Self.tenant: 1])
        let left = Set(try connection.query("SELECT event_id FROM dreamclass.webhook_events").rows.map { try $0.decode(UUID.self, at: 0) })
        #expect(left == [winner, fraction, noStudent])
    }
}
