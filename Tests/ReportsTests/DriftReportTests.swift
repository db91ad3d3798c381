import Foundation
import Models
import Reports
import Testing

@Suite struct DriftReportTests {
    @Test func cellsAreQuotedAndFormulasNeutralized() {
        #expect(CSV.cell("plain") == "plain")
        #expect(CSV.cell("O'Brien, Pat") == "\"O'Brien, Pat\"")
        #expect(CSV.cell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.cell("two\nlines") == "\"two\nlines\"")
        #expect(CSV.cell("=HYPERLINK(\"http://evil\")") == "\"'=HYPERLINK(\"\"http://evil\"\")\"")
        #expect(CSV.cell("+1") == "'+1")
        #expect(CSV.cell("-2") == "'-2")
        #expect(CSV.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSV.cell("\tx") == "'\tx")
        #expect(CSV.cell("\rx") == "\"'\rx\"")
        #expect(CSV.line(["a", "b"]) == "a,b\r\n")
    }

    @Test func aReportHasAHeaderAndARowPerItemInCSVAndJSON() throws {
        var item = StoredDriftItem(runID: 7, kind: "missed_update", studentPeriodID: 74, firstSeenRun: 5)
        item.studentName = "=cmd|' /C calc'!A0"
        item.changedFields = "studentId;active"
        item.localActive = true
        item.remoteActive = false
        item.localStudentID = 3
        item.remoteStudentID = 4
        let csv = DriftReport.render([item], tenant: "my-school", format: .csv)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("run_id,tenant,kind,period_id,period_name,student_period_id,student_id,student_name"))
        #expect(lines[0].hasSuffix(",first_seen_run,reason"))
        #expect(lines[1] == "7,my-school,missed_update,,,74,,'=cmd|' /C calc'!A0,,,studentId;active,true,false,,,,,,5,"
            + "\"DreamClass lists it with student 4, inactive; the events we hold say student 3, active.\"")
        let json = DriftReport.render([item], tenant: "my-school", format: .json)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(decoded?.count == 1)
        // JSON's own types: numbers, booleans, null for what is absent.
        #expect(decoded?.first?["student_period_id"] as? Int == 74)
        #expect(decoded?.first?["run_id"] as? Int == 7)
        #expect(decoded?.first?["local_active"] as? Bool == true)
        #expect(decoded?.first?["remote_active"] as? Bool == false)
        #expect(decoded?.first?["student_name"] as? String == "=cmd|' /C calc'!A0")
        #expect(decoded?.first?["period_id"] is NSNull)
        #expect(decoded?.first?["student_email"] is NSNull)
        #expect((decoded?.first?["reason"] as? String)?.hasPrefix("DreamClass lists it with") == true)
    }

    @Test func everyDateTimeIsWrittenOneWay() throws {
        var item = StoredDriftItem(runID: 1, kind: "stale_delete", studentPeriodID: 9, firstSeenRun: 1)
        item.periodID = 3
        item.localAddedAt = "2026-09-14T23:33:19.530+00:00"
        item.remoteAddedAt = "2026-09-15T01:33:19.5+02:00"
        item.remoteActive = true
        item.lastEventType = "STUDENT_PERIOD_DELETED"
        item.lastEventAt = Date(timeIntervalSince1970: 1_764_791_948.923)
        let csv = DriftReport.render([item], tenant: "t", format: .csv)
        let row = csv.components(separatedBy: "\r\n")[1]
        #expect(row.contains(",2026-09-14T23:33:19.530Z,2026-09-14T23:33:19.500Z,"))
        #expect(row.contains(",2025-12-03T19:59:08.923Z,"))
        #expect(!row.contains("+00:00") && !row.contains("000Z"))
        #expect(row.hasSuffix("\"DreamClass lists it in period 3 (active, added 2026-09-14T23:33:19.500Z); the last event we hold is DELETED at 2025-12-03T19:59:08.923Z.\""))
    }
}
