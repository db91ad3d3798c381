import EventStore
import Foundation
import Models
import Postgres
import TestSupport
import Testing

/// The fold reads instants as numbers the server computes (in `float8` where that is exact, in
/// `numeric` elsewhere): every instant must come back as it was sent, to the microsecond, on both
/// sides of each boundary.
@Suite struct FoldInstantTests {
    @Test func everyAddedAtAndEventTimeComesBackExactly() throws {
        let (_, connection) = try TestPostgres.makeStore("fold-instants", quiet: true)
        let addedAts = [
            "0001-01-01T00:00:00.000001Z", "1833-11-24T17:31:43.999999Z", "1899-12-31T23:59:59.999999Z", "1900-01-01T00:00:00.000000Z",
            "1900-01-01T00:00:00.000001Z", "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000001Z", "2026-12-05T04:00:00.123456Z",
            "2038-01-19T03:14:08.000001Z", "2099-12-31T23:59:59.999999Z", "2100-01-01T00:00:00.000001Z",
            "2106-02-07T06:36:01.733887Z", "9999-12-31T23:59:59.999999Z",
        ]
        // Event times to the millisecond, before 1970 and long after.
        let millis: [Int64] = [-62_135_596_799_999, -1, 0, 1_733_373_600_123, 4_102_444_799_999, 253_402_300_799_999]
        var lines: [String] = []
        for (index, addedAt) in addedAts.enumerated() {
            let time = millis[index % millis.count]
            lines.append(#"{"id":"\#(UUID().uuidString.lowercased())","type":"STUDENT_PERIOD_CREATED","tenant":"instants","timestamp":\#(time),"#
                + #""data":{"id":\#(index + 1),"studentId":7,"active":true,"addedAt":"\#(addedAt)"}}"#)
        }
        #expect(try connection.ingest(lines).stored == addedAts.count)
        let states = try LocalEventReader(schema: "dreamclass").read(tenant: "instants", from: connection).fold.states
        for (index, addedAt) in addedAts.enumerated() {
            let state = try #require(states[index + 1], "enrollment \(index + 1)")
            #expect(state.lastEvent.record?.addedAtInstant == Timestamp.parse(addedAt), "addedAt \(addedAt)")
            #expect(state.lastEvent.timeMillis == millis[index % millis.count], "timestamp of \(addedAt)")
        }
    }
}
