import DemoJob
import Foundation
import Logging
import Testing
import TestSupport

/// The README's first command, in process: what the demo reports is what its outage hid.
@Suite struct DemoJobTests {
    @Test(arguments: [UInt64(1), 7])
    func theDemoFindsExactlyWhatItsOutageHid(seed: UInt64) async throws {
        let folder = try temporaryFolder("demo")
        var job = DemoJob()
        (job.periods, job.studentsPerPeriod, job.outageChanges, job.seed) = (3, 40, 3, seed)
        job.reportPath = folder.appending(path: "drift.csv").path
        var said: [String] = []
        TestLogging.bootstrap()
        let result = try await job.run(logger: Logger(label: "demo")) { said.append($0) }

        let found = Dictionary(grouping: result.outcome.items, by: \.kind).mapValues { Set($0.map(\.studentPeriodID)) }
        #expect(found["missed_create", default: []] == Set(result.scenario.expectedMissedCreates))
        #expect(found["missed_update", default: []] == Set(result.scenario.expectedMissedUpdates))
        #expect(found["missed_delete", default: []] == Set(result.scenario.expectedMissedDeletes))
        #expect(found["stale_delete", default: []] == Set(result.scenario.expectedStaleDeletes))
        #expect(result.outcome.run.status == .drift)
        // The cut-short line is rejected, not lost silently; the rest is stored.
        #expect(result.ingested.rejected == 1)
        #expect(said.count == 2 && said[1].hasPrefix("ingest: "))
        let report = try String(contentsOfFile: result.reportPath, encoding: .utf8)
        #expect(report.split(whereSeparator: \.isNewline).count == result.outcome.items.count + 1)
        #expect(result.hidden.contains("the outage hid \(result.scenario.expectedMissedCreates.count) creates"))
    }
}
