import Backfill
import DreamClassAPI
import DreamClassSimulator
import EventStore
import Foundation
import Models
import Postgres
import Reconciliation
import ReconcileJob
import Reports
import Signing
import TestSupport
import Testing

/// `explain` against the real store and simulator: a school with every drift kind, a forged
/// event, re-deliveries, same-millisecond ties, unusable data, another family's event with the
/// same id, all stored out of order. Its winner is checked against a fold written here from the
/// webhook bodies (not the product's), its verdict against the run, its repair against the backfill.
@Suite struct ExplainTests {
    static let tenant = "explain-school"
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("explain")
    }

    /// One webhook body, as this test reads it.
    struct Body {
        var id: UUID
        var type: String
        var millis: Int64
        var enrollment: Int?
        var data: [String: Any]
        var line: String
        var forged = false

        init(_ line: String) {
            let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            id = UUID(uuidString: json["id"] as! String)!
            type = json["type"] as! String
            millis = Self.integer(json["timestamp"])!
            data = json["data"] as? [String: Any] ?? [:]
            enrollment = Self.integer(data["id"]).map(Int.init)
            self.line = line
        }

        /// A JSON number's value; `nil` for a string or anything else.
        static func integer(_ value: Any?) -> Int64? {
            if value is String { return nil }
            if let number = value as? Int { return Int64(number) }
            if let number = value as? Int64 { return number }
            return (value as? NSNumber)?.int64Value
        }

        /// Usable by a fold: a student-period type, not forged, and the fields its type needs
        /// (this test only makes a string studentId unusable).
        var usable: Bool {
            guard Self.rank[type] != nil, !forged, enrollment != nil else { return false }
            if type == "STUDENT_PERIOD_DELETED" { return true }
            return Self.integer(data["studentId"]) != nil && data["active"] != nil && data["addedAt"] is String
        }

        static let rank = ["STUDENT_PERIOD_CREATED": 0, "STUDENT_PERIOD_UPDATED": 1, "STUDENT_PERIOD_DELETED": 2]
    }

    /// The winner by the documented order: event time, then CREATED < UPDATED < DELETED, then event id.
    static func winner(_ bodies: [Body]) -> Body? {
        bodies.filter(\.usable).max { a, b in
            (a.millis, Body.rank[a.type]!, a.id.uuidString) < (b.millis, Body.rank[b.type]!, b.id.uuidString)
        }
    }

    static func body(_ type: String, _ enrollment: Int, student: Any?, active: Any?, addedAt: Any?, millis: Int64, id: UUID, signature: String?) -> String {
        var data: [String: Any] = ["id": enrollment]
        if let student { data["studentId"] = student }
        if let active { data["active"] = active }
        if let addedAt { data["addedAt"] = addedAt }
        var envelope: [String: Any] = ["id": id.uuidString.lowercased(), "type": type, "tenant": tenant, "timestamp": millis, "data": data]
        if let signature { envelope["signature"] = signature }
        return String(decoding: try! JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys]), as: UTF8.self)
    }

    func explain(_ id: Int, run: Int64? = nil) async throws -> (json: [String: Any], text: String, explanation: Explanation) {
        let job = ExplainJob(options: .init(schema: "dreamclass", tenant: Self.tenant, enrollmentID: id, runID: run))
        let explanation = try await job.explain(connection: connection)
        let json = try JSONSerialization.jsonObject(with: Data(ExplanationReport.render(explanation, format: .json).utf8)) as! [String: Any]
        return (json, ExplanationReport.render(explanation, format: .text), explanation)
    }

    @Test(arguments: [3, 17])
    func theWinnerVerdictAndRepairAreTheFoldsTheRunsAndTheBackfills(seed: UInt64) async throws {
        let now = Date()
        let school = School.generate(periods: 3, studentsPerPeriod: 30, seed: seed, today: now)
        let scenario = OutageScenario.make(school: school, tenant: Self.tenant, outageChanges: 3, seed: seed + 1, now: now)
        var random = SeededRandom(seed: seed)
        var bodies = scenario.storedWebhooks.map(Body.init)
        let secret = Data("explain secret \(seed)".utf8).base64EncodedString()
        let signature = try WebhookSignature(secret: secret, encoding: .base64)
        func sign(_ id: UUID) -> String { signature.sign(eventID: id.uuidString.lowercased()) }

        // The extra faults, each on an enrollment of its own, all signed (and checked) but the forgery.
        let deleted = scenario.expectedMissedDeletes[0]
        let lastOfDeleted = Self.winner(bodies.filter { $0.enrollment == deleted })!
        // Enrollments in sync whose last event is no delete (an UPDATED beside a DELETED would lose by type alone).
        let inSync = Array(Set(bodies.compactMap(\.enrollment)).subtracting(
            scenario.expectedMissedUpdates + scenario.expectedMissedDeletes + scenario.expectedStaleDeletes + scenario.expectedMissedCreates
        )).sorted().filter { id in Self.winner(bodies.filter { $0.enrollment == id })?.type != "STUDENT_PERIOD_DELETED" }
        let tied = inSync[0], redelivered = inSync[1], unusable = inSync[2], family = inSync[3]
        let tiedWinner = Self.winner(bodies.filter { $0.enrollment == tied })!
        let redeliveredWinner = Self.winner(bodies.filter { $0.enrollment == redelivered })!
        var extra: [Body] = []
        // A forged DELETED, newer than anything: left out, the enrollment stays a missed delete.
        let forgedID = UUID(random: &random)
        var forged = Body(Self.body("STUDENT_PERIOD_DELETED", deleted, student: nil, active: nil, addedAt: nil,
                                    millis: lastOfDeleted.millis + 60_000, id: forgedID, signature: "forged"))
        forged.forged = true
        extra.append(forged)
        // An UPDATED in the same millisecond as the winner, with its data: the tie is the type's, or the id's.
        func copy(_ winner: Body, type: String) -> Body {
            let id = UUID(random: &random)
            return Body(Self.body(type, winner.enrollment!, student: winner.data["studentId"], active: winner.data["active"],
                                  addedAt: winner.data["addedAt"], millis: winner.millis, id: id, signature: sign(id)))
        }
        extra.append(copy(tiedWinner, type: "STUDENT_PERIOD_UPDATED"))
        // The winner again under another id: a re-delivery.
        extra.append(copy(redeliveredWinner, type: redeliveredWinner.type))
        // An UPDATED whose studentId is a string: unusable, left out.
        let badID = UUID(random: &random)
        extra.append(Body(Self.body("STUDENT_PERIOD_UPDATED", unusable, student: "12", active: true, addedAt: "2026-01-01T00:00:00Z",
                                    millis: Int64(now.timeIntervalSince1970 * 1000) - 86_400_000, id: badID, signature: sign(badID))))
        // A payment whose data.id happens to be an enrollment's id.
        let paymentID = UUID(random: &random)
        extra.append(Body(Self.body("PAYMENT_CREATED", family, student: nil, active: nil, addedAt: nil, millis: 1_700_000_000_000,
                                    id: paymentID, signature: sign(paymentID))))
        bodies += extra

        // Stored out of order: the scenario's lines shuffled (unsigned, as a receiver without a
        // secret stores them), then the extra ones through an ingest that checks signatures.
        var lines = scenario.storedWebhooks
        for index in lines.indices.reversed() { lines.swapAt(index, Int(random.next() % UInt64(index + 1))) }
        try connection.ingest(lines)
        let url = FileManager.default.temporaryDirectory.appending(path: "explain-\(UUID().uuidString).jsonl")
        try Data(extra.map(\.line).joined(separator: "\n").utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var reader = LineReader(handle: try FileHandle(forReadingFrom: url))
        let signed = try Ingester(schema: "dreamclass", signature: signature).ingest(&reader, sourceName: "extra.jsonl", into: connection)
        #expect(signed.signaturesFailed == 1)

        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant))
        let run = try await JobHarness.reconcile(
            simulator, database: database, connection: connection, options: .init(schema: "dreamclass", tenant: Self.tenant, settle: .seconds(900)), now: now
        )
        #expect(Set(run.items.map(\.kind)) == ["missed_create", "missed_update", "missed_delete", "stale_delete"])

        // Every drifted enrollment and every one with an extra fault.
        let subjects = Set(run.items.map(\.studentPeriodID) + [tied, redelivered, unusable, family])
        for id in subjects.sorted() {
            let (json, text, _) = try await explain(id)
            let mine = bodies.filter { $0.enrollment == id }
            let listed = (json["events"] as! [[String: Any]])
            // Every stored event of it, once.
            let stored = try connection.query("""
                SELECT count(*) FROM dreamclass.webhook_events WHERE tenant = $1 AND body::jsonb->'data'->>'id' = $2
                """, [Self.tenant, String(id)]).first!.decode(Int.self, at: 0)
            #expect(listed.count == stored, "enrollment \(id)")
            #expect(Set(listed.map { $0["event_id"] as! String }).count == listed.count)
            #expect(Set(listed.map { $0["event_id"] as! String }) == Set(mine.map { $0.id.uuidString.lowercased() }), "enrollment \(id)")
            // The winner is this test's own fold's; exactly one event counts, and it is the winner.
            let winner = Self.winner(mine)
            let belief = json["belief"] as! [String: Any]
            #expect((belief["winner"] as? [String: Any])?["event_id"] as? String == winner?.id.uuidString.lowercased(), "enrollment \(id)")
            #expect(listed.filter { $0["counts"] as! Bool }.map { $0["event_id"] as! String } == winner.map { [$0.id.uuidString.lowercased()] } ?? [])
            #expect(belief["consistent"] as? Bool == true, "enrollment \(id): \(belief["check"] ?? "")")
            // The verdict is the run's drift item.
            let verdict = json["verdict"] as! [String: Any]
            let item = run.items.first { $0.studentPeriodID == id }
            #expect(verdict["kind"] as? String == item?.kind ?? "in_sync", "enrollment \(id)")
            if let item {
                #expect(text.contains("Verdict: \(item.kind)"))
                #expect(verdict["first_seen_run"] as? Int == Int(run.run.runID))
                #expect((json["repair"] as! [String: Any])["state"] as? String == "not_backfilled")
            }
            if let winner { #expect(text.contains("* \(winner.id.uuidString.lowercased())")) }
        }

        // The rulings a person asked about.
        func rulings(_ id: Int) async throws -> [String: String] {
            let events = try await explain(id).json["events"] as! [[String: Any]]
            return Dictionary(uniqueKeysWithValues: events.map { ($0["event_id"] as! String, $0["ruling"] as! String) })
        }
        let forgedRuling = try await rulings(deleted)[forgedID.uuidString.lowercased()]
        #expect(forgedRuling == "bad_signature")
        let deletedText = try await explain(deleted).text
        #expect(deletedText.contains("left out: bad signature"))
        let tieRulings = Set(try await rulings(tied).values)
        #expect(tieRulings.contains("lower_type") || tieRulings.contains("redelivery"))
        let redeliveryRulings = Set(try await rulings(redelivered).values)
        #expect(redeliveryRulings.contains("redelivery"))
        let unusableText = try await explain(unusable).text
        #expect(unusableText.contains("left out: data.studentId is missing or not an integer"))
        let familyRulings = Set(try await rulings(family).values)
        #expect(familyRulings.contains("other_family"))

        // What DreamClass said, for a missed delete: not in either read, its period read whole twice.
        // (A first run knows no period of an enrollment it never saw listed: then every period was read, twice.)
        let said = try await explain(deleted).json["dreamclass"] as! [String: Any]
        #expect(said["in_first_read"] as? Bool == false)
        #expect(said["in_confirming_read"] as? Bool == false)
        if said["period_id"] is NSNull {
            #expect(said["all_periods_read"] as? Bool == true)
            #expect(deletedText.contains("period not known to the store: run \(run.run.runID) read every period whole, twice"))
        } else {
            #expect((said["period_read"] as? [String: Any])?["confirming_read"] as? Bool == true)
        }
        #expect(deletedText.contains("first read: not listed; confirming read: not listed"))
        #expect(deletedText.contains("DreamClass no longer lists it in "))

        // A backfill whose guard holds every delete: the repair says held, and by which limit.
        var options = BackfillJob.Options(schema: "dreamclass", runID: run.run.runID)
        options.maxDeletes = .count(0)
        options.signature = signature
        let held = try await BackfillJob(options: options).run(connection: connection)
        #expect(held.held(.missedDelete) == run.items.count { $0.kind == "missed_delete" })
        let heldRepair = try await explain(deleted).json["repair"] as! [String: Any]
        #expect(heldRepair["state"] as? String == "held")
        #expect((heldRepair["guard"] as? String)?.contains("exceed max_deletes 0") == true)
        #expect(heldRepair["event_type"] as? String == "STUDENT_PERIOD_DELETED")
        // `data` is JSON in the JSON form, not a string of it.
        let firstEvent = (try await explain(deleted).json["events"] as! [[String: Any]])[0]
        #expect((firstEvent["data"] as? [String: Any])?["id"] as? Int == deleted)
        let heldText = try await explain(deleted).text
        #expect(heldText.contains("held by the guard: "))

        // Then, allowed and delivered: the repair names the event and its delivery.
        let receiver = TestReceiver(failFirst: 0, user: "u", password: "p", signature: signature)
        let hook = try await receiver.start()
        options.allowMassDelete = true
        var config = WebhookSender.Configuration(url: hook, basicAuth: ("u", "p"))
        config.maxAttempts = 2
        let sender = WebhookSender(configuration: config)
        let done = try await BackfillJob(options: options).run(connection: connection, sender: sender)
        try await sender.shutdown()
        await receiver.stop()
        let entry = done.entries.first { $0.studentPeriodID == deleted }!
        let repair = try await explain(deleted).json["repair"] as! [String: Any]
        #expect(repair["state"] as? String == "stored")
        #expect(repair["event_id"] as? String == entry.eventID.uuidString.lowercased())
        #expect(repair["event_type"] as? String == "STUDENT_PERIOD_DELETED")
        #expect(repair["delivery_state"] as? String == "delivered")
        #expect(repair["attempts"] as? Int == 1)
        // The backfilled DELETED is now one of its events, and (being newest) the one that counts.
        let after = try await explain(deleted)
        #expect(((after.json["belief"] as! [String: Any])["winner"] as? [String: Any])?["event_id"] as? String == entry.eventID.uuidString.lowercased())
    }

    @Test func liveSaysWhatARunNowWouldConcludeAndRecordsNothing() async throws {
        let now = Date()
        let school = School.generate(periods: 2, studentsPerPeriod: 20, seed: 9, today: now)
        let scenario = OutageScenario.make(school: school, tenant: Self.tenant, outageChanges: 2, seed: 10, now: now)
        try connection.ingest(scenario.storedWebhooks)
        func withSimulator<T: Sendable>(_ school: School, _ body: (DreamClassClient) async throws -> T) async throws -> T {
            try await JobHarness.withClient(DreamClassSimulator(school: school, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: Self.tenant)), body)
        }
        let run = try await withSimulator(scenario.schoolAfter) { client in
            try await ReconcileJob(options: .init(schema: "dreamclass", tenant: Self.tenant))
                .run(connection: connection, lockConnection: try database.connect(), client: client, now: now)
        }
        // Since the run, DreamClass lost one enrollment the run found in sync.
        var today = scenario.schoolAfter
        let period = today.periods.first { !(today.enrollments[$0.id] ?? []).isEmpty }!.id
        let driftIDs = Set(run.items.map(\.studentPeriodID))
        let gone = today.enrollments[period]!.first { !driftIDs.contains($0.id) }!
        let kept = today.enrollments[period]!.first { !driftIDs.contains($0.id) && $0.id != gone.id }!
        today.enrollments[period]!.removeAll { $0.id == gone.id }
        let runsBefore = try connection.query("SELECT count(*) FROM dreamclass.reconcile_runs").first!.decode(Int.self, at: 0)
        let created = run.items.first { $0.kind == "missed_create" }!.studentPeriodID
        let verdicts = try await withSimulator(today) { client in
            var found: [Int: ExplanationReport.Live] = [:]
            for id in [gone.id, kept.id, created] {
                var options = ExplainJob.Options(schema: "dreamclass", tenant: Self.tenant, enrollmentID: id)
                options.settle = .zero
                let job = ExplainJob(options: options)
                found[id] = try await job.live(try await job.explain(connection: connection), client: client)
            }
            return found
        }
        #expect(verdicts[gone.id]?.kind == "missed_delete")
        #expect(verdicts[gone.id]?.listed == nil)
        #expect(verdicts[gone.id]?.periodsRead.first?.confirmingRead == true)
        #expect(verdicts[kept.id]?.kind == "in_sync")
        #expect(verdicts[kept.id]?.listed?.id == kept.id)
        #expect(verdicts[created]?.kind == "missed_create")
        // The run still says what it said; nothing was recorded.
        let job = ExplainJob(options: .init(schema: "dreamclass", tenant: Self.tenant, enrollmentID: gone.id))
        #expect(try await job.explain(connection: connection).verdict.kind == "in_sync")
        #expect(try connection.query("SELECT count(*) FROM dreamclass.reconcile_runs").first!.decode(Int.self, at: 0) == runsBefore)
        let text = ExplanationReport.render(try await job.explain(connection: connection), live: verdicts[gone.id], format: .text)
        #expect(text.contains("Now (--live, nothing recorded): missed_delete"))
    }

    @Test func anUnknownEnrollmentSaysWhereItLookedAndWhichTenantHasIt() async throws {
        let now = Date()
        let school = School.generate(periods: 1, studentsPerPeriod: 5, seed: 4, today: now)
        let scenario = OutageScenario.make(school: school, tenant: "other-school", outageChanges: 1, seed: 5, now: now)
        try connection.ingest(scenario.storedWebhooks)
        let simulator = DreamClassSimulator(school: scenario.schoolAfter, settings: SimulatorSettings(apiKey: "k", schoolCode: "S", tenant: "other-school"))
        _ = try await JobHarness.reconcile(simulator, database: database, connection: connection, options: .init(schema: "dreamclass", tenant: "other-school"), now: now)
        let id = Body(scenario.storedWebhooks[0]).enrollment!
        let error = await #expect(throws: ExplainJob.UnknownEnrollment.self) {
            try await ExplainJob(options: .init(schema: "dreamclass", tenant: Self.tenant, enrollmentID: id)).explain(connection: connection)
        }
        #expect(error?.description.contains("looked in webhook_events, enrollment_states and drift_items") == true)
        #expect(error?.description.contains("try --tenant other-school") == true)
        // The right tenant explains it.
        let found = try await ExplainJob(options: .init(schema: "dreamclass", tenant: "other-school", enrollmentID: id)).explain(connection: connection)
        #expect(!found.events.isEmpty)
    }
}
