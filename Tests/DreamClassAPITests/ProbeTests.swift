import DreamClassAPI
import DreamClassSimulator
import Foundation
import Testing
import TestSupport

/// `config check`'s probe of the API: paging, the page size honoured, GetStudent; and the
/// settings it suggests.
@Suite struct ProbeTests {
    @Test func correctionsFollowWhatTheAPIDoes() {
        let bare = APIProbe(periods: 2, period: 1, pageRows: nil, rosterSize: 30, student: "found")
        #expect(bare.corrections(pageSize: 500).map(\.value) == ["0"])
        #expect(bare.corrections(pageSize: 0).isEmpty)
        // The server gives at most 20 rows a page, whatever is asked.
        let capped = APIProbe(periods: 2, period: 1, pageRows: [1: 1, 10: 10, 50: 20, 100: 20], rosterSize: 30)
        #expect(capped.largestHonouredPageSize == 20)
        #expect(capped.corrections(pageSize: 500).map { "\($0.key): \($0.value)" } == ["page_size: 20"])
        #expect(capped.corrections(pageSize: 10).isEmpty)
        #expect(capped.corrections(pageSize: 0).map(\.value) == ["20"])
        // A roster smaller than the page: the whole roster counts as honoured.
        let small = APIProbe(periods: 1, period: 1, pageRows: [1: 1, 10: 5, 50: 5], rosterSize: 5)
        #expect(small.largestHonouredPageSize == 50)
        #expect(APIProbe(periods: 0).corrections(pageSize: 500).isEmpty)
    }

    @Test(arguments: [nil, 7] as [Int?])
    func theProbeSeesTheSimulatorsPaging(pageSize: Int?) async throws {
        let school = School.generate(periods: 2, studentsPerPeriod: 25, seed: 7)
        let probe = try await ClientTests.withSimulator(school: school, settings: { $0.pageSize = pageSize }) { simulator, client in
            try await client.probe()
        }
        #expect(probe.periods == 2)
        #expect(probe.period == school.periods[0].id)
        #expect(probe.rosterSize == 25)
        #expect(probe.student?.hasPrefix("found") == true)
        if let pageSize {
            #expect(probe.largestHonouredPageSize == pageSize)
            #expect(probe.corrections(pageSize: 500).map { "\($0.key): \($0.value)" } == ["page_size: \(pageSize)"])
        } else {
            #expect(probe.pageRows == nil)
            #expect(probe.corrections(pageSize: 500).map(\.value) == ["0"])
        }
    }
}
