import Backfill
import EventStore
import Foundation
import Models
import Postgres
import Signing
import TestSupport
import Testing

/// `backfill --run ID --config FILE` applies the school of the run's tenant as `run --backfill`
/// does: every key of the file that a backfill uses, set only in the file, has its effect.
@Suite struct BackfillSchoolFileTests {
    let fill = try! BackfillTests()

    /// A folder with the school's secret files and a schools file; `body` gets the file's text
    /// for the school's section (after `tenant:`).
    func schoolsFile(_ section: String, tenant: String = BackfillTests.tenant) throws -> (folder: String, file: String) {
        let folder = try temporaryFolder("fill-file").path
        try "k\n".write(toFile: folder + "/key", atomically: true, encoding: .utf8)
        try """
            schools:
              fill:
                school_code: S
                tenant: \(tenant)
                api_key_file: \(folder)/key
            \(section.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """.write(toFile: folder + "/schools.yaml", atomically: true, encoding: .utf8)
        return (folder, folder + "/schools.yaml")
    }

    /// Nothing of the school's comes from the environment: only the file can have the effect.
    static let bareEnvironment = [
        "DREAMCLASS_WEBHOOK_SECRET": "", "DREAMCLASS_WEBHOOK_SECRET_FILE": "", "DREAMCLASS_DELIVER_PASSWORD": "",
        "DREAMCLASS_DELIVER_PASSWORD_FILE": "", "DREAMCLASS_API_KEY": "", "DREAMCLASS_TENANT": "", "DREAMCLASS_SCHOOL_CODE": "",
    ]

    @Test func everyBackfillKeyOfTheFileHasItsEffect() async throws {
        try fill.connection.ingest(BackfillTests.scenario.storedWebhooks)
        let run = try await fill.reconcile(BackfillTests.scenario.schoolAfter)
        let deletes = BackfillTests.scenario.expectedMissedDeletes.count
        #expect(deletes > 0)
        let secret = Data("file secret \(UUID())".utf8).base64EncodedString()
        let receiver = TestReceiver(failFirst: 0, user: "file-user", password: "file-pass", signature: try WebhookSignature(secret: secret, encoding: .base64))
        let url = try await receiver.start()
        let (folder, file) = try schoolsFile("""
            max_deletes: 0
            deliver: \(url)
            deliver_user: file-user
            deliver_password_file: PASSWORD
            webhook_secret_file: SECRET
            report_dir: REPORTS
            deadline: 1h
            """)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "file-pass\n".write(toFile: folder + "/password", atomically: true, encoding: .utf8)
        try secret.write(toFile: folder + "/secret", atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: "PASSWORD", with: folder + "/password").replacingOccurrences(of: "SECRET", with: folder + "/secret")
            .replacingOccurrences(of: "REPORTS", with: folder + "/reports")
        try text.write(toFile: file, atomically: true, encoding: .utf8)

        let result = await Command.run("dreamclass-reconcile", ["backfill", "--run", String(run.run.runID), "--config", file, "--database", fill.database.conninfo],
                                       environment: Self.bareEnvironment)
        await receiver.stop()
        // max_deletes: 0 holds every delete, and says so by its exit code.
        #expect(result.status == 3, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(", \(deletes) held"), "\(result.stdout)")
        let storedDeletes = try fill.connection.query(
            "SELECT count(*) FROM dreamclass.webhook_events WHERE source = 'backfill' AND event_type = 'STUDENT_PERIOD_DELETED'"
        ).first?.decode(Int.self, at: 0)
        #expect(storedDeletes == 0)
        let record = try #require(try RunStore(schema: "dreamclass").run(run.run.runID, on: fill.connection))
        #expect(record.heldDeletes == deletes && record.heldCreates == 0)
        // deliver, deliver_user and deliver_password_file, webhook_secret_file: delivered to the
        // file's URL with its credentials, signed with its secret.
        let stored = run.items.count - deletes
        let state = receiver.state.withLock { $0 }
        #expect(state.rejectedAuth == 0 && state.rejectedSignature == 0, "\(state)")
        #expect(state.accepted.count == stored)
        // report_dir: the backfill's report is in the school's folder.
        let reports = try FileManager.default.contentsOfDirectory(atPath: folder + "/reports")
        #expect(reports.count == 1 && reports[0].hasPrefix("backfill-\(BackfillTests.tenant)-"), "\(reports)")
        // `runs` shows what was held.
        let runs = await Command.run("dreamclass-reconcile", ["runs", "--database", fill.database.conninfo])
        let table = runs.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        let column = try #require(table.first?.firstIndex(of: "held deletes"), "\(runs.stdout)")
        #expect(table.dropFirst().first?[column] == String(deletes))
    }

    /// A run of a tenant with no stored event: its backfill holds the creates (78) and says why,
    /// until --allow-mass-create, for a first load on purpose.
    @Test func theCreatesOfATenantWithNoStoredEventAreHeldUntilAllowed() async throws {
        let run = try await fill.reconcile(BackfillTests.scenario.schoolAfter)
        #expect(run.run.missedCreates > 0)
        let arguments = ["backfill", "--run", String(run.run.runID), "--backfill-report", "/dev/null", "--database", fill.database.conninfo]
        let held = await Command.run("dreamclass-reconcile", arguments)
        #expect(held.status == 78, "\(held.stdout)\n\(held.stderr)")
        #expect(held.stdout.contains("held: \(run.run.missedCreates) creates: the store holds no event of tenant \"\(BackfillTests.tenant)\""), "\(held.stdout)")
        #expect(try fill.backfillCount().rows == 0)
        #expect(try RunStore(schema: "dreamclass").run(run.run.runID, on: fill.connection)?.heldCreates == run.run.missedCreates)
        let allowed = await Command.run("dreamclass-reconcile", arguments + ["--allow-mass-create"])
        #expect(allowed.status == 0, "\(allowed.stdout)\n\(allowed.stderr)")
        #expect(try fill.backfillCount().rows == run.run.missedCreates)
        #expect(try RunStore(schema: "dreamclass").run(run.run.runID, on: fill.connection)?.heldCreates == 0)
    }

    @Test func aRunWhoseTenantTheFileDoesNotHaveIsAConfigurationErrorAndStoresNothing() async throws {
        try fill.connection.ingest(BackfillTests.scenario.storedWebhooks)
        let run = try await fill.reconcile(BackfillTests.scenario.schoolAfter)
        let (folder, file) = try schoolsFile("max_deletes: 0", tenant: "another-school")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = await Command.run("dreamclass-reconcile", ["backfill", "--run", String(run.run.runID), "--config", file, "--database", fill.database.conninfo],
                                       environment: Self.bareEnvironment)
        #expect(result.status == 78, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("run \(run.run.runID) is of tenant \"\(BackfillTests.tenant)\", and no school of \(file) has that tenant"))
        #expect(try fill.backfillCount().rows == 0)
        // A run id that does not exist is a usage error, as in `report`.
        let missing = await Command.run("dreamclass-reconcile", ["backfill", "--run", "999", "--database", fill.database.conninfo])
        #expect(missing.status == 64, "\(missing.stderr)")
        #expect(missing.stderr.contains("there is no run 999"))
    }
}
