import FleetJob
import Foundation
import Models
import Testing

@Suite struct ExitStatusTests {
    static func run(_ status: RunRecord.Status, drift: Int = 0) -> RunRecord {
        var run = RunRecord(runID: 1, tenant: "t", scope: "all", startedAt: Date(timeIntervalSince1970: 0), status: status)
        run.missedUpdates = drift
        return run
    }

    @Test func incompleteWinsOverDriftAndDriftCountsOnlyWhenAsked() {
        #expect(ExitStatus.of(Self.run(.ok), detailed: true) == 0)
        #expect(ExitStatus.of(Self.run(.drift, drift: 3), detailed: false) == 0)
        #expect(ExitStatus.of(Self.run(.drift, drift: 3), detailed: true) == 2)
        #expect(ExitStatus.of(Self.run(.incomplete, drift: 3), detailed: true) == 75)
    }

    @Test func suspectCreatesAreTheConfigurationCodeUnlessTheRunIsIncomplete() {
        #expect(ExitStatus.of(Self.run(.drift, drift: 3), detailed: true, suspectedCreates: true) == 78)
        #expect(ExitStatus.of(Self.run(.incomplete, drift: 3), detailed: true, suspectedCreates: true) == 75)
    }

    @Test func theWorstOfSeveralSaysTheMost() {
        #expect(ExitStatus.worst([0, 2, 75]) == 75)
        #expect(ExitStatus.worst([2, 0]) == 2)
        #expect(ExitStatus.worst([75, 1]) == 1)
        #expect(ExitStatus.worst([1, 143, 75]) == 143)
        #expect(ExitStatus.worst([]) == 0)
        // Someone must act (78) before "try again" (75); held deletes (3) over drift (2).
        #expect(ExitStatus.worst([75, 78, 3]) == 78)
        #expect(ExitStatus.worst([2, 3, 0]) == 3)
        #expect(ExitStatus.worst([3, 75]) == 75)
        #expect(ExitStatus.worst([64, 75]) == 64)
        // Every code of the table is ranked, each once.
        #expect(Set(ExitStatus.severity).count == ExitStatus.severity.count)
        #expect(Set(ExitStatus.severity) == [0, 1, 2, 3, 64, 65, 75, 78, 130, 143])
    }
}
